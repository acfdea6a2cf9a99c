//! quota-gateway: a Redis-backed atomic quota gateway for AI apps.
//! `api -> store -> quota`: HTTP in `api`, Redis in `store`, the domain in `quota`.

pub mod quota;
