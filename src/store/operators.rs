//! Operators in Redis: one hash of the deployment, `<prefix>:operators`, lower-cased email ->
//! the operator's record (JSON, the password as an Argon2id hash only), so an address is taken
//! once (`HSETNX`) and a sign-in reads one field; and each open invitation under
//! `<prefix>:invite:<SHA-256 of its token>` -> the email, expiring with the invitation.

use redis::AsyncCommands;

use super::contract::REPLACE_FIELD;
use super::{corrupt, ConsoleStore, StoreError};
use crate::quota::operator::OperatorRecord;

impl ConsoleStore {
    /// Stores a new operator; false when the address is taken.
    pub(crate) async fn create_operator(&self, record: &OperatorRecord) -> Result<bool, StoreError> {
        let json = serde_json::to_string(record).map_err(|e| corrupt("operator", e))?;
        let key = self.keys.operators();
        let email = &record.email;
        self.run(|mut conn| async move { Ok(conn.hset_nx(&key, email, &json).await?) })
            .await
    }

    /// An operator's record and the text it is stored as, which `replace_operator` compares.
    pub(crate) async fn load_operator_text(&self, email: &str) -> Result<Option<(String, OperatorRecord)>, StoreError> {
        let key = self.keys.operators();
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.hget(&key, email).await?) })
            .await?;
        raw.map(|json| {
            let record = serde_json::from_str(&json).map_err(|e| corrupt("operator", e))?;
            Ok((json, record))
        })
        .transpose()
    }

    /// Replaces the record of operator `email` by `record` (None: removes it) only while it
    /// is still stored as `was`; false when another change wrote it first, or removed it.
    pub(crate) async fn replace_operator(
        &self,
        email: &str,
        was: &str,
        record: Option<&OperatorRecord>,
    ) -> Result<bool, StoreError> {
        let json = match record {
            Some(record) => serde_json::to_string(record).map_err(|e| corrupt("operator", e))?,
            None => String::new(),
        };
        let key = self.keys.operators();
        let replaced: i64 = self
            .run(|mut conn| async move {
                Ok(REPLACE_FIELD
                    .script()
                    .key(&key)
                    .arg(email)
                    .arg(was)
                    .arg(&json)
                    .invoke_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(replaced == 1)
    }

    pub(crate) async fn load_operator(&self, email: &str) -> Result<Option<OperatorRecord>, StoreError> {
        let key = self.keys.operators();
        let raw: Option<String> = self
            .run(|mut conn| async move { Ok(conn.hget(&key, email).await?) })
            .await?;
        raw.map(|json| serde_json::from_str(&json).map_err(|e| corrupt("operator", e)))
            .transpose()
    }

    /// Every operator, by email (at most `MAX_OPERATORS`, so read whole).
    pub(crate) async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        let key = self.keys.operators();
        let raw: Vec<String> = self.run(|mut conn| async move { Ok(conn.hvals(&key).await?) }).await?;
        let mut all = raw
            .iter()
            .map(|json| serde_json::from_str(json).map_err(|e| corrupt("operator", e)))
            .collect::<Result<Vec<OperatorRecord>, _>>()?;
        all.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(all)
    }

    pub(crate) async fn count_operators(&self) -> Result<usize, StoreError> {
        let key = self.keys.operators();
        self.run(|mut conn| async move { Ok(conn.hlen(&key).await?) }).await
    }

    pub(crate) async fn delete_operator(&self, email: &str) -> Result<bool, StoreError> {
        let key = self.keys.operators();
        let removed: i64 = self
            .run(|mut conn| async move { Ok(conn.hdel(&key, email).await?) })
            .await?;
        Ok(removed > 0)
    }

    /// Opens an invitation for `email`, expiring after `ttl_ms`.
    pub(crate) async fn put_invite(&self, digest_hex: &str, email: &str, ttl_ms: u64) -> Result<(), StoreError> {
        let key = self.keys.invite(digest_hex);
        self.run(|mut conn| async move {
            let _: () = conn.pset_ex(&key, email, ttl_ms).await?;
            Ok(())
        })
        .await
    }

    /// The email an open invitation is for, without ending it (the page that asks for a
    /// password reads it; only setting the password ends it).
    pub(crate) async fn invite(&self, digest_hex: &str) -> Result<Option<String>, StoreError> {
        let key = self.keys.invite(digest_hex);
        self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await
    }

    /// Ends an invitation; the email it was for, when it was still open (so two tabs cannot
    /// both take it up).
    pub(crate) async fn take_invite(&self, digest_hex: &str) -> Result<Option<String>, StoreError> {
        let key = self.keys.invite(digest_hex);
        self.run(|mut conn| async move { Ok(redis::cmd("GETDEL").arg(&key).query_async(&mut conn).await?) })
            .await
    }
}
