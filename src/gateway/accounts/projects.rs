//! Projects and their settings; every change moves the config epoch.

use std::time::Instant;

use serde_json::json;

use super::Accounts;
use crate::gateway::audit::{Action, Actor, Change};
use crate::gateway::outcome::Verb;
use crate::gateway::GatewayError;
use crate::quota::ProjectSettings;

impl Accounts<'_> {
    /// Creates a project; false when the id is taken.
    pub(crate) async fn create_project(&self, id: &str, settings: &ProjectSettings) -> Result<bool, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let created = self.store.create_project(id, settings).await?;
            if created {
                self.data.node.bump_epoch().await?;
            }
            Ok(created)
        }
        .await;
        self.data.node.report(Verb::CreateProject, id, None, started, &answer);
        answer
    }

    /// Replaces a project's settings; false when there is no such project.
    pub(crate) async fn update_project(
        &self,
        id: &str,
        settings: &ProjectSettings,
        by: &Actor,
    ) -> Result<bool, GatewayError> {
        let started = Instant::now();
        let answer = async {
            let updated = self.store.update_project(id, settings).await?;
            if updated {
                self.data.node.bump_epoch().await?;
            }
            Ok(updated)
        }
        .await;
        self.data.node.report(Verb::UpdateProject, id, None, started, &answer);
        if let Ok(true) = answer {
            let detail = json!({ "defaultPlan": settings.default_plan, "allowedOrigins": settings.allowed_origins, "ledger": settings.ledger });
            let change = Change {
                action: Action::SettingsPatch,
                target: id,
                user: None,
                detail,
            };
            self.data.node.record(id, by, change).await;
        }
        answer
    }

    /// Every project with its settings, ordered by id.
    pub(crate) async fn projects(&self) -> Result<Vec<(String, ProjectSettings)>, GatewayError> {
        let mut projects = Vec::new();
        for id in self.store.project_ids().await? {
            if let Some(settings) = self.data.node.project_settings(&id).await? {
                projects.push((id, settings));
            }
        }
        Ok(projects)
    }

    /// Whether any project lets browsers from `origin` read usage (for CORS preflights, which
    /// carry no key and so name no project).
    pub(crate) async fn origin_allowed_anywhere(&self, origin: &str) -> Result<bool, GatewayError> {
        Ok(self.projects().await?.iter().any(|(_, s)| s.allows_origin(origin)))
    }
}
