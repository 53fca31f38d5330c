"""The vendors' quota windows and how long a caller waits for one.

Shared by the in-process limiters (`connectors.ratelimit`) and the quota every process
shares through PostgreSQL (`db.quota`), which must not import each other.
"""

# Our clock stamps a request when it leaves; the server stamps it when it arrives.
# Slack on each window absorbs the difference (measured: 0.25 s was not enough on a
# loaded 2-core machine, where a request can wait that long to be sent).
WINDOW_MARGIN_SECONDS = 1.0
# Longest a caller waits for a slot before giving up with a TransientError.
DEFAULT_MAX_WAIT_SECONDS = 60.0
# Gmail's quota is a per-minute budget: the window holds units_per_second * 60 units.
# (The window's length can be shortened for tests; the budget stays the same.)
QUOTA_WINDOW_SECONDS = 60 + WINDOW_MARGIN_SECONDS
# HubSpot's burst limit is a rolling 10-s window per portal; searches have their own second.
HUBSPOT_WINDOW_SECONDS = 10 + WINDOW_MARGIN_SECONDS
HUBSPOT_SEARCH_WINDOW_SECONDS = 1 + WINDOW_MARGIN_SECONDS
