"""Every permission the portal checks, named for what it lets a person do. The roles (portal.core.roles) grant them.

Views check them with `permission_required`, operation kinds name them in `permission`, templates read them as
`perms.core.<codename>`. They are declared on `core.Operation` (its Meta) and granted by migrations core 0002/0004/0009.
"""

VIEW_RESOURCES = "core.view_resources"  # see every resource, operation and audit entry
MANAGE_RESOURCES = "core.manage_resources"  # create, change and delete AWS resources
REVOKE_PARTICIPANTS = "core.revoke_participants"  # disconnect stage participants, revoke meeting attendees
HANGUP_CALLS = "core.hangup_calls"  # hang up PSTN calls, lift a number's lockout after wrong PINs
SYNC_RESOURCES = "core.sync_resources"  # bring the registry in line with what AWS lists
MANAGE_USERS = "core.manage_users"  # create users, give roles, deactivate, reset passwords, unlock logins
