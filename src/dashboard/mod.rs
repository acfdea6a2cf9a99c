//! The operator's dashboard at `/dashboard`: pages rendered on the server (maud templates,
//! compiled into the binary and escaped by construction), plain forms (POST, redirect, GET)
//! each carrying the session's CSRF token, charts as SVG, one embedded stylesheet, no script,
//! and a strict Content-Security-Policy. It calls the same gateway verbs as the API.

mod actions;
mod admin;
mod approvals;
mod chart;
mod confirm;
mod credits;
mod diff;
mod layout;
mod ledger;
mod notice;
mod numbers;
mod operators;
mod pages;
mod plans;
mod prices;
mod runs;
mod session;
mod shown;
mod simulation_report;
mod simulations;
mod spend;
mod user;
mod users;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(session::login_page))
        .route("/dashboard/login", web::post().to(session::sign_in))
        .route("/dashboard/logout", web::post().to(session::sign_out))
        .route("/dashboard/project", web::post().to(session::switch_project))
        .route("/dashboard/assets/app.css", web::get().to(layout::css))
        .route("/dashboard/users", web::get().to(users::list))
        .route("/dashboard/users/{userId}", web::get().to(user::show))
        .route("/dashboard/users/{userId}/{action}", web::post().to(actions::act))
        // Four segments under /dashboard/users: never the two of a support action's POST.
        .route("/dashboard/users/{userId}/runs/{runId}", web::get().to(runs::show))
        .route("/dashboard/approvals", web::get().to(approvals::list))
        .route(
            "/dashboard/approvals/{approvalId}/{action}",
            web::post().to(approvals::decide),
        )
        .route("/dashboard/plans", web::get().to(plans::list))
        .route(
            "/dashboard/plans/new",
            web::get().to(|req, state| plans::edit(req, state, None)),
        )
        .route("/dashboard/plans/save", web::post().to(plans::save))
        // The editor's form tried on the plan's users; nothing is saved.
        .route("/dashboard/plans/try", web::post().to(simulations::try_plan))
        .route(
            "/dashboard/simulations/{simulationId}",
            web::get().to(simulations::show),
        )
        .route(
            "/dashboard/plans/{planId}/edit",
            web::get().to(|req, state, path| plans::edit(req, state, Some(path))),
        )
        .route("/dashboard/prices", web::get().to(prices::list))
        .route("/dashboard/prices", web::post().to(prices::change))
        .route("/dashboard/webhooks", web::get().to(pages::webhooks))
        .route("/dashboard/webhooks", web::post().to(pages::create_webhook))
        .route("/dashboard/audit", web::get().to(pages::audit))
        .route("/dashboard/overview", web::get().to(pages::overview))
        .route(
            "/dashboard/webhooks/{webhookId}/{action}",
            web::post().to(pages::webhook_action),
        )
        .route(operators::PAGE, web::get().to(operators::list))
        .route(operators::PAGE, web::post().to(operators::change))
        .route("/dashboard/invite/{token}", web::get().to(operators::invitation))
        .route("/dashboard/invite/{token}", web::post().to(operators::accept))
        .route("/dashboard/keys", web::get().to(admin::keys))
        .route("/dashboard/keys", web::post().to(admin::change_keys))
        .route("/dashboard/settings", web::get().to(admin::settings))
        .route("/dashboard/settings", web::post().to(admin::change_settings));
}
