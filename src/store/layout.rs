//! The Redis key layout (docs/book/src/reference/redis-layout.md describes every key and field).
//! All state of one end user shares the hash tag `{<project>:<user>}`; ids are escaped so that
//! distinct ids never share a key or a field and a user id can never move another user's tag.

pub(crate) use crate::quota::ids::escape;
use crate::quota::ids::unescape;

use super::slots;
use crate::quota::Window;

/// The project and user ids of a user's hash tag (`<project>:<user>`, both escaped).
pub(crate) fn parse_user_tag(tag: &str) -> Option<(String, String)> {
    let (project, user) = tag.split_once(':')?;
    Some((unescape(project)?, unescape(user)?))
}

/// Key names, all under one configurable prefix (`qg` by default).
#[derive(Debug, Clone)]
pub struct Layout {
    prefix: String,
}

/// The keys of one end user: one text holding them all, one after another, so a call makes
/// them in one allocation rather than one each. The writing scripts take them in their own
/// order (prelude.lua's header), through the accessors, never by position here.
#[derive(Debug, Clone)]
pub struct UserKeys {
    text: String,
    /// Where each key ends in `text`, in `USER_KEYS`' order.
    ends: [usize; USER_KEYS.len()],
}

/// The suffix of each key after the user's tag; the last is the slot's outbox, shared with
/// every user of that slot, whose name is made otherwise (`Layout::outbox`).
const USER_KEYS: [&str; 11] = [
    ":ctr", ":res", ":open", ":ended", ":periods", ":sub", ":idem", ":audit", ":ledger", ":daily", "",
];

impl UserKeys {
    fn key(&self, at: usize) -> &str {
        let start = if at == 0 { 0 } else { self.ends[at - 1] };
        &self.text[start..self.ends[at]]
    }

    pub fn ctr(&self) -> &str {
        self.key(0)
    }

    pub fn res(&self) -> &str {
        self.key(1)
    }

    pub fn open(&self) -> &str {
        self.key(2)
    }

    pub fn ended(&self) -> &str {
        self.key(3)
    }

    pub fn periods(&self) -> &str {
        self.key(4)
    }

    pub fn sub(&self) -> &str {
        self.key(5)
    }

    pub fn idem(&self) -> &str {
        self.key(6)
    }

    pub fn audit(&self) -> &str {
        self.key(7)
    }

    pub fn ledger(&self) -> &str {
        self.key(8)
    }

    pub fn daily(&self) -> &str {
        self.key(9)
    }

    /// The alerts outbox of the user's slot, shared with every user of that slot.
    pub fn outbox(&self) -> &str {
        self.key(10)
    }

    /// The user's tag, every key's head: the counters key without its suffix.
    fn tag(&self) -> &str {
        &self.text[..self.ends[0] - USER_KEYS[0].len()]
    }

    /// The user's grants of credits (their records, and the final amounts of those that
    /// finished): made only by the calls that need it, from the user's tag.
    pub fn grants(&self) -> String {
        format!("{}:grants", self.tag())
    }

    /// The run actions whose last proxied attempt ended in an error not worth retrying, as
    /// `<run>|<action>` fields.
    pub fn closed_actions(&self) -> String {
        format!("{}:noretry", self.tag())
    }
}

impl Layout {
    pub fn new(prefix: &str) -> Layout {
        Layout {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every data-plane call builds these, so they are concatenated rather than formatted
    /// (`format!` cost a reserve about 13,000 instructions here).
    pub fn user(&self, project: &str, user: &str) -> UserKeys {
        let (project, user) = (escape(project), escape(user));
        let mut tag = String::with_capacity(self.prefix.len() + project.len() + user.len() + 4);
        for part in [&self.prefix, ":{", &project, ":", &user, "}"] {
            tag.push_str(part);
        }
        let outbox = self.outbox(slots::slot(&tag));
        let suffixes: usize = USER_KEYS.iter().map(|suffix| suffix.len()).sum();
        let mut text = String::with_capacity(tag.len() * (USER_KEYS.len() - 1) + suffixes + outbox.len());
        let mut ends = [0; USER_KEYS.len()];
        for (end, suffix) in ends.iter_mut().zip(USER_KEYS) {
            if suffix.is_empty() {
                text.push_str(&outbox);
            } else {
                text.push_str(&tag);
                text.push_str(suffix);
            }
            *end = text.len();
        }
        UserKeys { text, ends }
    }

    /// Project-wide keys share the tag `{<project>}` so a project's plans live in one slot.
    fn project(&self, project: &str, rest: &str) -> String {
        format!("{}:{{{}}}:{rest}", self.prefix, escape(project))
    }

    pub fn settings(&self, project: &str) -> String {
        self.project(project, "settings")
    }

    pub fn plan(&self, project: &str, plan: &str) -> String {
        self.project(project, &format!("plan:{plan}"))
    }

    pub fn plans(&self, project: &str) -> String {
        self.project(project, "plans")
    }

    /// The project's own prices of models: a hash, model -> price JSON.
    pub fn prices(&self, project: &str) -> String {
        self.project(project, "prices")
    }

    /// All users of a project with a subscription state, by id (score 0, ordered by id).
    pub fn users(&self, project: &str) -> String {
        self.project(project, "users")
    }

    /// user -> "<ver>|<status>|<plan>|<parent>", the index's copy of each subscription.
    pub fn user_info(&self, project: &str) -> String {
        self.project(project, "userinfo")
    }

    /// "<parent>\0<member>" (score 0): each parent's members, together in id order.
    pub fn members(&self, project: &str) -> String {
        self.project(project, "members")
    }

    /// Days (as UTC day numbers, scored by themselves) on which some user of the project had a
    /// ledger entry, so a project-wide reading finds its users without walking every user.
    pub fn ledger_days(&self, project: &str) -> String {
        self.project(project, "ledger_days")
    }

    /// The users with a ledger entry on one UTC day, score 0, ordered by id.
    pub fn ledger_day_users(&self, project: &str, day: i64) -> String {
        self.project(project, &format!("ledger_users:{day}"))
    }

    /// How often each fallback route of the proxy moved on, and why: `<day>|<route>|<reason>`
    /// -> count (`store/route_fallbacks.rs`).
    pub fn route_fallbacks(&self, project: &str) -> String {
        self.project(project, "fallbacks")
    }

    /// The door's async jobs and uploaded files (`store/jobs.rs`): a job's record, a file's,
    /// the job a reservation holds for, a user's open jobs, and the lease of the node settling
    /// a job; `rest` names which (`job:<upstream>/<id>`, ...).
    pub fn jobs(&self, project: &str, rest: &str) -> String {
        self.project(project, rest)
    }

    /// A user's jobs of one kind, or files, made through one upstream, by the provider's id
    /// scored by when they were listed (`store/listed.rs`): in the user's slot, so a project's
    /// users page their lists on every node of a Cluster.
    pub fn listed(&self, project: &str, user: &str, upstream: &str, what: &str) -> String {
        format!(
            "{}:{{{}:{}}}:listed:{}:{what}",
            self.prefix,
            escape(project),
            escape(user),
            escape(upstream)
        )
    }

    /// Every project's open jobs by when the sweeper polls them next: `<project>\n<upstream>/<id>`.
    pub fn jobs_due(&self) -> String {
        format!("{}:{{jobs}}:due", self.prefix)
    }

    /// The lease that one parent change at a time holds across its check and its write
    /// (`store::locks`).
    pub fn parents_lock(&self, project: &str) -> String {
        self.project(project, "parents_lock")
    }

    /// The overview's activity, computed from every user's rollups (a JSON string), and the
    /// lease of the node computing it next.
    pub fn overview(&self, project: &str) -> [String; 2] {
        ["overview", "overview_lock"].map(|rest| self.project(project, rest))
    }

    /// plan -> how many users are on it.
    pub fn plan_users(&self, project: &str) -> String {
        self.project(project, "plan_users")
    }

    /// user -> claim time ms: users being put on a plan, not yet counted in `plan_users`.
    pub fn plan_claims(&self, project: &str, plan: &str) -> String {
        self.project(project, &format!("claims:{plan}"))
    }

    /// A project's webhook endpoints, their deliveries, when each is next due, and the log of
    /// deliveries by creation (enqueue.lua says what each holds).
    pub fn webhooks(&self, project: &str) -> [String; 4] {
        ["webhooks", "deliveries", "due", "deliverylog"].map(|rest| self.project(project, rest))
    }

    /// The endpoint an Idempotency-Key of webhook creation made (`field`: the route and the
    /// key's digest), kept for the retention window.
    pub fn webhook_idempotency(&self, project: &str, field: &str) -> String {
        self.project(project, &format!("webhook_idem:{field}"))
    }

    /// A project's approval requests (index_approval.lua says what each holds).
    pub fn approvals(&self, project: &str) -> [String; 5] {
        [
            "approvals",
            "approvals:all",
            "approvals:pending",
            "approvals:approved",
            "approvals:declined",
        ]
        .map(|rest| self.project(project, rest))
    }

    /// One user's approval requests (every status), by when they were made: a list filtered by
    /// user reads only theirs.
    pub fn approvals_of(&self, project: &str, user: &str) -> String {
        self.project(project, &format!("approvals:user:{}", escape(user)))
    }

    /// A simulation of the pricing lab: its progress, then its report (a string that expires).
    pub fn simulation(&self, project: &str, id: &str) -> String {
        self.project(project, &format!("sim:{id}"))
    }

    /// A running simulation's progress, written apart from its state.
    pub fn simulation_progress(&self, project: &str, id: &str) -> String {
        self.project(project, &format!("sim:{id}:progress"))
    }

    /// Every change made by a key in the project, newest last (a capped stream).
    pub fn audit_log(&self, project: &str) -> String {
        self.project(project, "auditlog")
    }

    pub fn project_keys(&self, project: &str) -> String {
        self.project(project, "keys")
    }

    /// The project's user keys by id (their records, as under their digest).
    pub fn user_keys(&self, project: &str) -> String {
        self.project(project, "userkeys")
    }

    /// The ids of one user's keys.
    pub fn user_keys_of(&self, project: &str, user: &str) -> String {
        self.project(project, &format!("userkeys:user:{}", escape(user)))
    }

    pub fn api_key(&self, digest_hex: &str) -> String {
        format!("{}:key:{digest_hex}", self.prefix)
    }

    /// The deployment's operators: lower-cased email -> record.
    pub fn operators(&self) -> String {
        format!("{}:operators", self.prefix)
    }

    /// An open invitation to set an operator's password, by the SHA-256 of its token.
    pub fn invite(&self, digest_hex: &str) -> String {
        format!("{}:invite:{digest_hex}", self.prefix)
    }

    pub fn projects(&self) -> String {
        format!("{}:projects", self.prefix)
    }

    /// Moves on every change of plans, settings or keys; nodes poll it to refresh their caches.
    pub fn epoch(&self) -> String {
        format!("{}:epoch", self.prefix)
    }

    /// The secret that signs user tokens.
    pub fn signing(&self) -> String {
        format!("{}:signing", self.prefix)
    }

    /// The alerts outbox of one slot: events the scripts decided, until a node moves them to
    /// their project's deliveries.
    pub fn outbox(&self, slot: usize) -> String {
        let tag = slots::tag(slot);
        let mut key = String::with_capacity(self.prefix.len() + tag.len() + 10);
        for part in [&self.prefix, ":{", tag, "}:outbox"] {
            key.push_str(part);
        }
        key
    }

    /// From this instant (ms) on, every ledger entry's day is in its project's ledger index;
    /// earlier ones (written before a node kept the index) are found through the users index.
    pub fn ledger_index_since(&self) -> String {
        format!("{}:ledger_index_since", self.prefix)
    }

    pub fn root(&self) -> String {
        format!("{}:root", self.prefix)
    }
}

/// The counter field of a per-value group's `value` in its window (`<group>~<value>@<start>`,
/// the value escaped; holds.lua reads it back), or of a group's window (`counter_field`).
pub(crate) fn value_field(group: &str, value: Option<&str>, window: &Window) -> String {
    let mut field = String::with_capacity(group.len() + value.map_or(0, |v| v.len() + 1) + 24);
    push_value_field(&mut field, group, value, window);
    field
}

/// `value_field` written at the end of `out` (a slice's field puts its ancestor in front).
pub(crate) fn push_value_field(out: &mut String, group: &str, value: Option<&str>, window: &Window) {
    out.push_str(group);
    if let Some(value) = value {
        out.push('~');
        out.push_str(&escape(value));
    }
    push_window(out, window);
}

/// How many sub-windows before its own a rolling sub-window's counter field counts (its
/// `<buckets>`); 0 for any other field.
pub(crate) fn rolling_buckets(field: &str) -> u32 {
    let Some((_, rest)) = field.rsplit_once("@r") else {
        return 0;
    };
    let mut parts = rest.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(start), Some(len), Some(buckets), None) if start.parse::<i64>().is_ok() && len.parse::<i64>().is_ok() => {
            buckets.parse().unwrap_or(0)
        }
        _ => 0,
    }
}

/// The value of a per-value group's counter field (`value_field`), unescaped; None for a
/// group's own counter.
pub(crate) fn value_in_field(field: &str) -> Option<String> {
    let (_, rest) = field.split_once('~')?;
    let (value, _) = rest.rsplit_once('@')?;
    unescape(value)
}

/// The values a per-value group counted in a period, as holds.lua lists them in the field
/// `<group>@<start>:v` ("\n<value>\n...\n", each escaped), unescaped.
pub(crate) fn listed_values(list: &str) -> Vec<String> {
    list.split('\n')
        .filter(|v| !v.is_empty())
        .filter_map(unescape)
        .collect()
}

/// The counter field of a group's window, without its `:u` / `:h` suffix. A rolling window's
/// sub-window is "<group>@r<start>/<length ms>/<buckets>": the scripts find the sub-windows
/// before it from its own name (lua/library/modules/rolling.lua).
pub(crate) fn counter_field(group: &str, window: &Window) -> String {
    value_field(group, None, window)
}

/// A counter field's window: "@<start>", "@life", or a rolling sub-window's
/// "@r<start>/<sub-window length>/<buckets>".
fn push_window(out: &mut String, window: &Window) {
    let mut itoa = itoa::Buffer::new();
    if let Some(g) = window.bucket_ms() {
        out.push_str("@r");
        out.push_str(itoa.format(window.start_ms));
        out.push('/');
        out.push_str(itoa.format(g));
        out.push('/');
        out.push_str(itoa.format(window.buckets));
        return;
    }
    // Concatenated rather than formatted: two per reserve, and `format!` costs ten times more.
    out.push('@');
    match window.end_ms {
        Some(_) => out.push_str(itoa.format(window.start_ms)),
        None => out.push_str("life"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keys_share_the_users_tag_and_the_outbox_its_slot() {
        let keys = Layout::new("qg").user("p", "u:1");
        let all = [
            keys.ctr(),
            keys.res(),
            keys.open(),
            keys.ended(),
            keys.periods(),
            keys.sub(),
            keys.idem(),
            keys.audit(),
            keys.ledger(),
            keys.daily(),
        ];
        let suffixes = [
            "ctr", "res", "open", "ended", "periods", "sub", "idem", "audit", "ledger", "daily",
        ];
        for (key, suffix) in all.iter().zip(suffixes) {
            assert_eq!(*key, format!("qg:{{p:u%3A1}}:{suffix}"));
        }
        assert_eq!(slots::slot(keys.outbox()), slots::slot(keys.ctr()));
        assert!(keys.outbox().starts_with("qg:{") && keys.outbox().ends_with("}:outbox"));
    }

    #[test]
    fn escaping_keeps_distinct_ids_apart() {
        assert_eq!(escape("alice"), "alice");
        assert_eq!(escape("a:b"), "a%3Ab");
        assert_eq!(escape("a%3Ab"), "a%253Ab");
        assert_eq!(escape("}x{"), "%7Dx%7B");
        assert_eq!(escape("a b\u{3000}"), "a%20b%E3%80%80");
        let keys = Layout::new("qg");
        assert_ne!(
            keys.user("p:x", "y").sub().to_string(),
            keys.user("p", "x:y").sub().to_string()
        );
        assert_eq!(keys.user("p", "u}{").sub().to_string(), "qg:{p:u%7D%7B}:sub");
    }

    #[test]
    fn a_users_lists_are_in_the_users_slot() {
        let keys = Layout::new("qg");
        let listed = keys.listed("p", "u:1", "openai", "batch");
        assert_eq!(listed, "qg:{p:u%3A1}:listed:openai:batch");
        assert_eq!(slots::slot(&listed), slots::slot(keys.user("p", "u:1").ctr()));
    }
}
