"""The Connections web UI: one module per area (overview, the Add Destination wizard, destination pages,
source pages). Every view is login-only and resolves objects through `access`, so an object outside the
user's workspaces is a 404."""
