//! Which version answers a gateway request: by flow ratio, or by a URL parameter or header for
//! those traffic types, falling back to the default version. Pure: the random draw is an input.

use super::state::Traffic;

/// What the router may look at in a request.
#[derive(Debug, Clone, Default)]
pub struct RequestKeys<'a> {
    pub query: Vec<(String, String)>,
    pub headers: Vec<(&'a str, &'a str)>,
}

/// The version that serves a request, or `None` when no version is online. `roll` is a uniform
/// draw in `[0, 1)`.
pub fn choose_version<'t>(
    traffic: &'t Traffic,
    keys: &RequestKeys<'_>,
    roll: f64,
) -> Option<&'t str> {
    match traffic.kind.as_str() {
        "URL_PARAMS" | "HEADERS" => by_param(traffic, keys),
        _ => by_ratio(traffic, roll),
    }
}

fn by_ratio(traffic: &Traffic, roll: f64) -> Option<&str> {
    let total: u32 = traffic.routes.iter().map(|r| r.ratio).sum();
    if total == 0 {
        return traffic.serving();
    }
    let mut point = roll * f64::from(total);
    for route in traffic.routes.iter().filter(|r| r.ratio > 0) {
        if point < f64::from(route.ratio) {
            return Some(&route.version);
        }
        point -= f64::from(route.ratio);
    }
    traffic
        .routes
        .iter()
        .rev()
        .find(|r| r.ratio > 0)
        .map(|r| r.version.as_str())
}

fn by_param<'t>(traffic: &'t Traffic, keys: &RequestKeys<'_>) -> Option<&'t str> {
    let mut candidates: Vec<_> = traffic
        .routes
        .iter()
        .filter(|r| r.param.is_some())
        .collect();
    candidates.sort_by_key(|r| r.priority);
    let headers = traffic.kind == "HEADERS";
    for route in candidates {
        let Some((key, pattern)) = &route.param else {
            continue;
        };
        let hit = if headers {
            keys.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(key) && glob(pattern, v))
        } else {
            keys.query.iter().any(|(k, v)| k == key && glob(pattern, v))
        };
        if hit {
            return Some(&route.version);
        }
    }
    traffic.serving()
}

/// `*` matches any run of characters, `?` any one; everything else matches itself.
pub fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::state::Route;

    fn route(version: &str, ratio: u32, is_default: bool, param: Option<(&str, &str)>) -> Route {
        Route {
            version: version.into(),
            ratio,
            priority: if is_default { 10 } else { 1 },
            is_default,
            param: param.map(|(k, v)| (k.into(), v.into())),
        }
    }

    #[test]
    fn flow_ratio_splits_by_the_draw() {
        let traffic = Traffic {
            kind: "FLOW".into(),
            routes: vec![
                route("a-001", 90, true, None),
                route("a-002", 10, false, None),
            ],
        };
        let keys = RequestKeys::default();
        assert_eq!(choose_version(&traffic, &keys, 0.0), Some("a-001"));
        assert_eq!(choose_version(&traffic, &keys, 0.899), Some("a-001"));
        assert_eq!(choose_version(&traffic, &keys, 0.9), Some("a-002"));
        assert_eq!(choose_version(&traffic, &keys, 0.999), Some("a-002"));
        let draws = (0..1000)
            .filter(|i| choose_version(&traffic, &keys, *i as f64 / 1000.0) == Some("a-002"));
        assert_eq!(draws.count(), 100);
    }

    #[test]
    fn a_zero_share_version_gets_nothing_and_no_routes_means_offline() {
        let traffic = Traffic {
            kind: "FLOW".into(),
            routes: vec![
                route("a-001", 100, true, None),
                route("a-002", 0, false, None),
            ],
        };
        let keys = RequestKeys::default();
        assert!(
            (0..100).all(|i| choose_version(&traffic, &keys, i as f64 / 100.0) == Some("a-001"))
        );
        assert_eq!(choose_version(&Traffic::default(), &keys, 0.5), None);
    }

    #[test]
    fn headers_and_url_params_pick_their_version_else_the_default() {
        let mut traffic = Traffic {
            kind: "HEADERS".into(),
            routes: vec![
                route("a-001", 0, true, None),
                route("a-002", 0, false, Some(("x-canary", "yes*"))),
            ],
        };
        let hit = RequestKeys {
            query: vec![],
            headers: vec![("X-Canary", "yes-please")],
        };
        assert_eq!(choose_version(&traffic, &hit, 0.0), Some("a-002"));
        assert_eq!(
            choose_version(&traffic, &RequestKeys::default(), 0.0),
            Some("a-001")
        );
        traffic.kind = "URL_PARAMS".into();
        let query = RequestKeys {
            query: vec![("x-canary".into(), "yes".into())],
            headers: vec![],
        };
        assert_eq!(choose_version(&traffic, &query, 0.0), Some("a-002"));
    }

    #[test]
    fn glob_matches_stars_and_question_marks() {
        assert!(glob("*", ""));
        assert!(glob("beta-*", "beta-7"));
        assert!(glob("a?c", "abc"));
        assert!(glob("*mid*", "xxmidyy"));
        assert!(!glob("beta-*", "alpha-1"));
        assert!(!glob("abc", "abcd"));
    }
}
