//! What the dashboard's pages share, so that no page imports another: the frame every page
//! sits in, links, forms and the session's checks, tables and cells shown on several pages.
//! A part imports only parts (`tests/layers.rs`): a piece two pages need moves here.

pub mod cells;
pub mod changes;
pub mod chart;
pub mod confirm;
pub mod diff;
pub mod forms;
pub mod layout;
pub mod ledger;
pub mod links;
pub mod notice;
pub mod numbers;
pub mod plan_editor;
pub mod session;
pub mod shown;
