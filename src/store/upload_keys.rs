//! The Idempotency-Keys of file uploads, in the project's slot (`uploadkey:<user>:<field>`,
//! the field the route and the key's digest). An upload holds nothing, so no reserve keeps its
//! key: it is claimed with one `SET NX GET` once the upload's fingerprint is known, its value
//! the fingerprint's digest and the claim's token while the upload is in flight, then the
//! digest and the file the provider made. A claim lapses by itself when its node dies, and is
//! given up (`unlock.lua`, only while still the taker's) when the provider made no file.

use super::layout::escape;
use super::{JobStore, StoreError};

impl JobStore {
    /// Claims `user`'s key `field` with `value` for `ttl_ms`: None when claimed, else the value
    /// another upload of the key claimed or recorded it with, untouched.
    pub(crate) async fn claim_upload_key(
        &self,
        project: &str,
        (user, field): (&str, &str),
        value: &str,
        ttl_ms: u64,
    ) -> Result<Option<String>, StoreError> {
        let key = self.upload_key(project, user, field);
        self.run(|mut conn| async move {
            Ok(redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("NX")
                .arg("GET")
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut conn)
                .await?)
        })
        .await
    }

    /// Records what `user`'s key `field` answers from now on, for `keep_ms`.
    pub(crate) async fn record_upload_key(
        &self,
        project: &str,
        (user, field): (&str, &str),
        value: &str,
        keep_ms: u64,
    ) -> Result<(), StoreError> {
        let key = self.upload_key(project, user, field);
        self.run(|mut conn| async move {
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("PX")
                .arg(keep_ms)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// Gives up `user`'s claim of key `field` if `value` still holds it.
    pub(crate) async fn drop_upload_key(
        &self,
        project: &str,
        (user, field): (&str, &str),
        value: &str,
    ) -> Result<(), StoreError> {
        self.unlock(self.upload_key(project, user, field), value).await
    }

    fn upload_key(&self, project: &str, user: &str, field: &str) -> String {
        self.keys.jobs(project, &format!("uploadkey:{}:{field}", escape(user)))
    }
}
