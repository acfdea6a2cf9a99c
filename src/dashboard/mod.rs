//! The operator's dashboard at `/dashboard`: pages rendered on the server (maud templates,
//! compiled into the binary and escaped by construction), plain forms (POST, redirect, GET)
//! each carrying the session's CSRF token, charts as SVG, one embedded stylesheet, no script,
//! and a strict Content-Security-Policy. It calls the same gateway verbs as the API.
//! Every module here is a page (a file, or a folder with its sections) but `parts/`, what the
//! pages share: a page imports parts, never another page (`tests/layers.rs`).

mod admin;
mod approvals;
mod audit;
mod errors;
mod login;
mod operators;
mod overview;
mod parts;
mod plans;
mod prices;
mod run;
mod simulations;
mod user;
mod user_ledger;
mod users;
mod webhooks;

use actix_web::middleware::from_fn;
use actix_web::web;

/// Where every page lives.
const SCOPE: &str = "/dashboard";

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    let scope = web::scope(SCOPE)
        // Errors as pages with a way back; the API's problem+json stays the API's.
        .wrap(from_fn(errors::pages))
        .default_service(web::to(errors::not_found))
        .route("", web::get().to(login::login_page))
        .route("/login", web::post().to(login::sign_in))
        .route("/logout", web::post().to(login::sign_out))
        .route("/project", web::post().to(login::switch_project))
        .route("/assets/app.css", web::get().to(parts::layout::css))
        .route("/users", web::get().to(users::list))
        .route("/users/{userId}", web::get().to(user::show))
        .route("/users/{userId}/ledger", web::get().to(user_ledger::show))
        .route("/users/{userId}/{action}", web::post().to(user::actions::act))
        // Four segments under /dashboard/users: never the two of a support action's POST.
        .route("/users/{userId}/runs/{runId}", web::get().to(run::show))
        .route(
            "/users/{userId}/runs/{runId}/{action}",
            web::post().to(run::levers::act),
        )
        .route("/approvals", web::get().to(approvals::list))
        .route("/approvals/{approvalId}/{action}", web::post().to(approvals::decide))
        .route("/plans", web::get().to(plans::list))
        .route("/plans/new", web::get().to(|req, state| plans::edit(req, state, None)))
        .route("/plans/save", web::post().to(plans::save))
        .route("/plans/edit", web::post().to(plans::edit_posted))
        // The editor's form tried on the plan's users; nothing is saved.
        .route("/plans/try", web::post().to(simulations::try_plan))
        .route("/simulations/{simulationId}", web::get().to(simulations::show))
        .route(
            "/plans/{planId}/edit",
            web::get().to(|req, state, path| plans::edit(req, state, Some(path))),
        )
        .route("/prices", web::get().to(prices::list))
        .route("/prices", web::post().to(prices::change))
        .route("/webhooks", web::get().to(webhooks::list))
        .route("/webhooks", web::post().to(webhooks::create))
        .route("/audit", web::get().to(audit::audit))
        .route("/overview", web::get().to(overview::overview))
        .route("/overview", web::post().to(overview::count_again))
        .route("/webhooks/{webhookId}/{action}", web::post().to(webhooks::act))
        .route(&operators::PAGE[SCOPE.len()..], web::get().to(operators::list))
        .route(&operators::PAGE[SCOPE.len()..], web::post().to(operators::change))
        .route("/invite/{token}", web::get().to(operators::invitation))
        .route("/invite/{token}", web::post().to(operators::accept))
        .route("/keys", web::get().to(admin::keys))
        .route("/keys", web::post().to(admin::change_keys))
        .route("/settings", web::get().to(admin::settings))
        .route("/settings", web::post().to(admin::change_settings));
    cfg.service(scope);
}
