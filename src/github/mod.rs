//! GitHub REST reporting: check runs, statuses, the sticky PR comment, deployments, releases, refs.
