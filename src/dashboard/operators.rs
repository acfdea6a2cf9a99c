//! The people who work on the project: its operators with their roles, an owner's form to
//! invite one (the invitation link shown once, in the answer) and to change or remove their
//! role here; and the invitation page where a person chooses their password.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::parts::forms::form;
use super::parts::layout::{bare_page, csrf, html_response, page};
use super::parts::notice::error;
use super::parts::numbers::when;
use super::parts::session::{current, from_another_site, posted, see_other};
use super::parts::shown::Shown;
use crate::gateway::console::operators::{invite_path, OperatorPatch, Taken};
use crate::gateway::console::sessions::Session;
use crate::gateway::GatewayError;
use crate::http::{ApiError, AppState};
use crate::quota::operator::{check_name, check_password, checked_email, Need, Role};

pub(crate) const PAGE: &str = "/dashboard/operators";

async fn operators_page(
    state: &AppState,
    session: &Session,
    invited: Option<(&str, &str, i64)>,
    problem: Option<&str>,
) -> Result<Markup, ApiError> {
    let now = state.gateway.node().now_ms();
    // Each operator with a role here, and each offered one here (as the owner named them,
    // invited like a new person until they take it up).
    let operators: Vec<_> = state
        .gateway
        .console()
        .operators()
        .await?
        .into_iter()
        .filter_map(
            |o| match (o.roles.get(&session.project), o.offers.get(&session.project)) {
                (Some(role), _) => Some((o.name.clone(), *role, o.status(), o)),
                (None, Some(offer)) if offer.expires_at_ms > now => {
                    Some((offer.name.clone(), offer.role, "invited", o))
                }
                _ => None,
            },
        )
        .collect();
    let owner = session.may(Need::Own);
    Ok(html! {
        h1 { "Operators" }
        p.muted { "The people who sign in to this project's dashboard, each under their own name: "
            "viewers read, support acts on users, admins also change plans, prices, webhooks and keys, "
            "owners also choose who works here." }
        @if let Some(problem) = problem { (error(problem)) }
        @if let Some((email, path, expires_ms)) = invited {
            div.flash role="status" {
                "Invitation for " (Shown(email)) ", shown only now: hand them this link (it works once, until "
                (when(expires_ms)) "): " code { (path) }
            }
        }
        div.scroll { table {
            thead { tr { th { "Name" } th { "Email" } th { "Role here" } th { "Status" } th { span.sr { "Actions" } } } }
            tbody {
                @for (name, role, status, o) in &operators {
                    tr {
                        td { (Shown(name)) br; span.muted { (Shown(&o.id)) } }
                        td { (Shown(&o.email)) }
                        td { (role.as_str()) }
                        td { (status) }
                        td { @if owner {
                            form.inline method="post" action=(PAGE) {
                                (csrf(session))
                                input type="hidden" name="do" value="role";
                                input type="hidden" name="operatorId" value=(o.id);
                                label { span.sr { "Role of " (Shown(name)) }
                                    select name="role" {
                                        @for r in Role::ALL { option value=(r.as_str()) selected[r == *role] { (r.as_str()) } }
                                        option value="remove" { "remove from this project" }
                                    } }
                                button type="submit" { "Change" }
                            }
                        } }
                    }
                }
                @if operators.is_empty() { tr { td colspan="5" { span.muted { "No operator yet: this project is signed in to with its secret key." } } } }
            }
        } }
        @if owner {
            (invitation_form(session))
        } @else {
            p.muted { "Only an owner of the project invites operators and changes their roles." }
        }
    })
}

/// An owner's form that invites an operator, with their role in this project.
fn invitation_form(session: &Session) -> Markup {
    html! {
        h2 { "Invite an operator" }
        form method="post" action=(PAGE) {
            (csrf(session))
            input type="hidden" name="do" value="invite";
            p { label for="op-email" { "Email" } br; input #op-email type="email" name="email" required maxlength="254"; }
            p { label for="op-name" { "Name" } br; input #op-name type="text" name="name" required maxlength="128"; }
            p { label for="op-role" { "Role in this project" } br;
                select #op-role name="role" { @for r in Role::ALL { option value=(r.as_str()) selected[r == Role::Support] { (r.as_str()) } } } }
            button type="submit" { "Invite" }
        }
    }
}

pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some((_, session)) = current(&req, &state).await? else {
        return Ok(see_other("/dashboard"));
    };
    let body = operators_page(&state, &session, None, None).await?;
    Ok(html_response(
        StatusCode::OK,
        page(&state, &session, "Operators", "Operators", None, body).await?,
    ))
}

/// `POST /dashboard/operators`: invite (answered here, the link never in a URL), or change
/// one operator's role in this project (`remove` takes it away).
pub(crate) async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, session, fields) = match posted(&req, &state, &body, Need::Own).await? {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let field = |name: &str| fields.get(name).map(|v| v.trim()).unwrap_or("").to_string();
    let actor = session.actor();
    let project = session.project.clone();
    if field("do") == "role" {
        let id = field("operatorId");
        match state.gateway.console().operator(&id).await {
            Ok(o) if o.roles.contains_key(&project) || o.offers.contains_key(&project) => {}
            Ok(_) | Err(GatewayError::OperatorNotFound(_)) => {
                return answer(&state, &session, None, Some("No such operator in this project.")).await
            }
            Err(err) => return Err(err.into()),
        };
        let role = match (field("role").as_str(), Role::parse(&field("role"))) {
            (_, Some(role)) => Some(role),
            ("remove", None) => None,
            (other, None) => {
                let text = format!("role: {other:?} is not a role; choose owner, admin, support, viewer or remove.");
                return answer(&state, &session, None, Some(&text)).await;
            }
        };
        // Only this project's role: the record is changed as stored when the change is made,
        // never written back whole from what this page read.
        let patch = OperatorPatch {
            role_in: Some((project.clone(), role)),
            ..OperatorPatch::default()
        };
        state.gateway.console().update_operator(&id, patch, &actor).await?;
        return Ok(see_other(PAGE));
    }
    let email = match checked_email(&field("email")) {
        Ok(email) => email,
        Err(p) => return answer(&state, &session, None, Some(&format!("{}: {}", p.field, p.detail))).await,
    };
    let name = field("name");
    if let Err(p) = check_name(&name) {
        return answer(&state, &session, None, Some(&format!("{}: {}", p.field, p.detail))).await;
    }
    let role = Role::parse(&field("role")).unwrap_or(Role::Viewer);
    match state
        .gateway
        .console()
        .invite_to_project(&email, &name, &project, role, &actor)
        .await
    {
        Ok((token, expires_at_ms)) => {
            let path = invite_path(&token);
            answer(&state, &session, Some((&email, &path, expires_at_ms)), None).await
        }
        Err(GatewayError::OperatorExists(_)) => {
            let text = "This address works on this project already: change its role in the table.";
            answer(&state, &session, None, Some(text)).await
        }
        Err(err) => Err(err.into()),
    }
}

/// The operators page answered to a form: with the invitation just made, or a problem (400).
async fn answer(
    state: &AppState,
    session: &Session,
    invited: Option<(&str, &str, i64)>,
    problem: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = operators_page(state, session, invited, problem).await?;
    Ok(html_response(
        status,
        page(state, session, "Operators", "Operators", None, body).await?,
    ))
}

fn invite_form(token: &str, name: &str, email: &str, problem: Option<&str>) -> Markup {
    bare_page(
        "Choose a password",
        html! {
            div.login.card {
                h1 { "Welcome, " (Shown(name)) }
                p { "Choose the password you will sign in with as " strong { (Shown(email)) }
                    "; if you sign in to this gateway already, give yours (twice) to add this project." }
                @if let Some(problem) = problem { div.flash.error role="alert" { (problem) } }
                form method="post" action=(invite_path(token)) {
                    p { label for="password" { "Password (12 to 128 characters, at least 12 not spaces and 4 different)" } br;
                        input #password type="password" name="password" autocomplete="new-password" minlength="12" maxlength="128" required; }
                    p { label for="confirm" { "The same password again" } br;
                        input #confirm type="password" name="confirm" autocomplete="new-password" required; }
                    button type="submit" { "Set my password" }
                }
            }
        },
    )
}

/// As the sign-in page: a browser without `Sec-Fetch-Site` posts this page's form with its own
/// `Origin` only when the page lets its referrer go to its own origin (under `no-referrer` it
/// sends `Origin: null`, which could not be told from another site's).
fn same_origin_referrer(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        actix_web::http::header::REFERRER_POLICY,
        actix_web::http::header::HeaderValue::from_static("same-origin"),
    );
    res
}

fn invite_gone() -> HttpResponse {
    let body = bare_page(
        "Invitation ended",
        html! {
            div.login.card {
                h1 { "This invitation has ended" }
                p { "It was used, replaced by a newer one, or it expired. Ask whoever invited you for a new link." }
                p { a href="/dashboard" { "Sign in" } }
            }
        },
    );
    html_response(StatusCode::NOT_FOUND, body)
}

pub(crate) async fn invitation(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    Ok(match state.gateway.console().invitation(&token).await? {
        Some(o) => same_origin_referrer(html_response(
            StatusCode::OK,
            invite_form(&token, &o.name, &o.operator.email, None),
        )),
        None => invite_gone(),
    })
}

/// Sets the invited operator's password (or takes up a role offered to an operator, with
/// theirs), then sends them to sign in.
pub(crate) async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    let Some(invited) = state.gateway.console().invitation(&token).await? else {
        return Ok(invite_gone());
    };
    let again = |problem: &str| {
        same_origin_referrer(html_response(
            StatusCode::BAD_REQUEST,
            invite_form(&token, &invited.name, &invited.operator.email, Some(problem)),
        ))
    };
    if from_another_site(&req) {
        return Ok(again(
            "This form came from another site; nothing was set. Set your password here.",
        ));
    }
    let fields = form(&body);
    let password = fields.get("password").cloned().unwrap_or_default();
    if let Err(p) = check_password(&password) {
        return Ok(again(&format!("The password {}.", p.detail)));
    }
    if fields.get("confirm") != Some(&password) {
        return Ok(again("The two passwords differ; nothing was set."));
    }
    Ok(
        match state.gateway.console().accept_invitation(&token, &password).await? {
            Taken::Joined => see_other("/dashboard?welcome=1"),
            Taken::WrongPassword => {
                again("This address signs in to this gateway already, and that is not its password; nothing changed.")
            }
            Taken::Gone => invite_gone(),
        },
    )
}
