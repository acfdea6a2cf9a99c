"""The soak's plans and population: members on `plan_member`, most of them in teams of eight
on `plan_team` (a shared budget one level up), the rest on their own.

Hard groups reset every minute, so quotas are reached, denials happen and thresholds are
crossed again and again through the run; soft monthly groups sum the whole run. Quotas are
sized for about 80 flows a user a minute (see `users_for`): the hard groups then deny a good
share of reserves at both levels, and every alert list fires most minutes.
"""

MINUTE = {"type": "minute", "anchor": "calendar"}
MONTH = {"type": "month", "anchor": "calendar"}

PLANS = {
    "plan_member": {
        "name": "Soak member", "periodType": "minute", "alerts": [],
        "groups": [
            {"id": "renders", "unit": "count", "quota": 40, "alerts": [100],
             "matches": [{"event": "image.*"}]},
            {"id": "tokens", "unit": "tokens", "quota": 60000, "alerts": [80],
             "matches": [{"event": "llm.*"}]},
            # Soft: never denies, and its alert above 100 % is crossed by usage past the quota.
            {"id": "burst", "unit": "count", "quota": 12, "mode": "soft", "alerts": [150],
             "matches": [{"event": "image.*"}]},
            {"id": "month_tokens", "unit": "tokens", "quota": 1000000000, "mode": "soft", "period": MONTH,
             "matches": [{"event": "llm.*"}]},
            {"id": "month_renders", "unit": "count", "quota": 1000000, "mode": "soft", "period": MONTH,
             "matches": [{"event": "image.*"}]},
        ],
    },
    "plan_team": {
        "name": "Soak team", "periodType": "minute", "alerts": [],
        "groups": [
            {"id": "team_renders", "unit": "count", "quota": 200, "alerts": [80, 100],
             "matches": [{"event": "image.*"}]},
            {"id": "team_tokens", "unit": "tokens", "quota": 350000, "alerts": [100],
             "matches": [{"event": "llm.*"}]},
            {"id": "team_month_tokens", "unit": "tokens", "quota": 10000000000, "mode": "soft", "period": MONTH,
             "matches": [{"event": "llm.*"}]},
        ],
    },
}

TEAM_SIZE = 8
TEAM_SHARE = 0.6


def thresholds(plan_id, group_id):
    plan = PLANS[plan_id]
    for g in plan["groups"]:
        if g["id"] == group_id:
            return g.get("alerts", plan.get("alerts", [80, 100]))
    return []


def users_for(flows_per_s):
    """About 80 flows a user a minute at the planned rate."""
    return max(40, min(4000, round(flows_per_s * 60 / 80)))


def population(prefix, n_users):
    """[(user, team or None)] and [team]: TEAM_SHARE of the users in teams of TEAM_SIZE."""
    n_teams = max(1, round(n_users * TEAM_SHARE / TEAM_SIZE))
    teams = [f"{prefix}team{t}" for t in range(n_teams)]
    users = []
    for i in range(n_users):
        team = teams[i // TEAM_SIZE] if i < n_teams * TEAM_SIZE else None
        users.append((f"{prefix}user{i}", team))
    return users, teams
