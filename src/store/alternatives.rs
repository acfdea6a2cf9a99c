//! A reserve of alternatives at one subject's level: the first that every matched group admits
//! held, in one call of reserve.lua (scripts/alternatives.rs).

use super::scripts::{self, Alternative, Idempotency, Reply, ReserveArgs, Weighed};
use super::{DataStore, StoreError};
use crate::quota::UserId;

impl DataStore {
    /// Holds the first of `alternatives` that every matched group admits at `user`'s level;
    /// `args` is what they share, `asked` every alternative the call asked for
    /// (`scripts::asked_text`), which the record keeps.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn reserve_first(
        &self,
        project: &str,
        user: &UserId,
        idempotency: Option<&Idempotency>,
        args: &ReserveArgs<'_>,
        alternatives: &[Alternative<'_>],
        asked: &str,
        ledger: bool,
    ) -> Result<Reply<Weighed>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let w = &self.writing(keys, idempotency, ledger);
        let reply = self
            .write("reserve", |mut conn| async move {
                let reply = scripts::reserve_first(&mut conn, w, args, alternatives, asked).await?;
                Ok((reply, conn))
            })
            .await?;
        self.reclaim_when_more(keys, &reply, ledger).await?;
        Ok(reply)
    }
}
