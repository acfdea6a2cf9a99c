//! What the dashboard's pages share, so that no page imports another: the frame every page
//! sits in, links, forms and the session's checks, tables and cells shown on several pages.
//! A part imports only parts (`tests/layers.rs`): a piece two pages need moves here.

pub(crate) mod cells;
pub(crate) mod changes;
pub(crate) mod chart;
pub(crate) mod confirm;
pub(crate) mod diff;
pub(crate) mod forms;
pub(crate) mod layout;
pub(crate) mod ledger;
pub(crate) mod links;
pub(crate) mod notice;
pub(crate) mod numbers;
pub(crate) mod plan_editor;
pub(crate) mod session;
pub(crate) mod shown;
