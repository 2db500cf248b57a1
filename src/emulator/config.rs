//! A service's configuration (`ServerBaseConfig`) and how `Items[]` (`DiffConfigItem`) change
//! it. Each key takes one typed value field; a value in the wrong field is rejected.

use serde::{Deserialize, Serialize};

/// The typed value of one `DiffConfigItem`, whichever field carried it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Str(String),
    Int(i64),
    Bool(bool),
    Float(f64),
    Array(Vec<String>),
    Policies(Vec<Policy>),
    /// A structured value the emulator keeps as given (TimerScale, VpcConf, VolumesConf,
    /// PublicNetConf).
    Json(serde_json::Value),
}

impl ConfigValue {
    fn kind(&self) -> &'static str {
        match self {
            ConfigValue::Str(_) => "Value",
            ConfigValue::Int(_) => "IntValue",
            ConfigValue::Bool(_) => "BoolValue",
            ConfigValue::Float(_) => "FloatValue",
            ConfigValue::Array(_) => "ArrayValue",
            ConfigValue::Policies(_) => "PolicyDetails",
            ConfigValue::Json(_) => "a structured field",
        }
    }
}

/// `HpaPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub policy_type: String,
    pub threshold: i64,
}

/// The configuration the emulator keeps per service and snapshots per version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceConfig {
    pub cpu: f64,
    pub mem: f64,
    pub min_num: i64,
    pub max_num: i64,
    pub port: i64,
    pub env_params: String,
    pub access_types: Vec<String>,
    pub policies: Vec<Policy>,
    pub log_path: String,
    pub log_type: String,
    pub internal_access: String,
    pub operation_mode: String,
    pub session_affinity: String,
    pub entry_point: Vec<String>,
    pub cmd: Vec<String>,
    pub dockerfile: String,
    pub build_dir: String,
    pub tag: String,
    pub has_dockerfile: bool,
    pub initial_delay_seconds: i64,
    /// Structured values kept as given, by key.
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            cpu: 0.5,
            mem: 1.0,
            min_num: 0,
            max_num: 5,
            port: 80,
            env_params: String::new(),
            access_types: vec!["PUBLIC".into()],
            policies: vec![Policy {
                policy_type: "cpu".into(),
                threshold: 60,
            }],
            log_path: "stdout".into(),
            log_type: "default".into(),
            internal_access: "close".into(),
            operation_mode: "condScale".into(),
            session_affinity: "close".into(),
            entry_point: Vec::new(),
            cmd: Vec::new(),
            dockerfile: "Dockerfile".into(),
            build_dir: String::new(),
            tag: String::new(),
            has_dockerfile: true,
            initial_delay_seconds: 2,
            extra: Default::default(),
        }
    }
}

/// An item that cannot be applied: the message for `InvalidParameterValue`.
pub type ItemError = String;

impl ServiceConfig {
    /// Applies one `Items[]` entry.
    pub fn apply(&mut self, key: &str, value: ConfigValue) -> Result<(), ItemError> {
        use ConfigValue::*;
        match (key, value) {
            ("MinNum", Int(v)) => self.min_num = non_negative(key, v)?,
            ("MaxNum", Int(v)) => self.max_num = non_negative(key, v)?,
            ("Port", Int(v)) if (1..=65535).contains(&v) => self.port = v,
            ("Port", Int(v)) => return Err(format!("Items[Port]: {v} is not a port (1-65535)")),
            ("InitialDelaySeconds", Int(v)) => self.initial_delay_seconds = non_negative(key, v)?,
            ("CpuSpecs", Float(v)) if v > 0.0 => self.cpu = v,
            ("MemSpecs", Float(v)) if v > 0.0 => self.mem = v,
            ("CpuSpecs" | "MemSpecs", Float(v)) => {
                return Err(format!("Items[{key}]: {v} must be positive"));
            }
            ("HasDockerfile", Bool(v)) => self.has_dockerfile = v,
            ("AccessTypes", Array(v)) => self.access_types = access_types(v)?,
            ("EntryPoint", Array(v)) => self.entry_point = v,
            ("Cmd", Array(v)) => self.cmd = v,
            ("PolicyDetails", Policies(v)) => self.policies = v,
            ("EnvParam", Str(v)) => self.env_params = env_params(v)?,
            ("LogPath", Str(v)) => self.log_path = v,
            ("Dockerfile", Str(v)) => self.dockerfile = v,
            ("BuildDir", Str(v)) => self.build_dir = v,
            ("Tag", Str(v)) => self.tag = v,
            ("LogType", Str(v)) => self.log_type = one_of(key, v, &["none", "default", "custom"])?,
            ("InternalAccess" | "SessionAffinity", Str(v)) => {
                let v = one_of(key, v, &["open", "close"])?;
                if key == "InternalAccess" {
                    self.internal_access = v;
                } else {
                    self.session_affinity = v;
                }
            }
            ("OperationMode", Str(v)) => {
                let modes = [
                    "noScale",
                    "condScale",
                    "alwaysScale",
                    "custom",
                    "manualScale",
                ];
                self.operation_mode = one_of(key, v, &modes)?;
            }
            ("LogSetId" | "LogTopicId" | "LogParseType", Str(v)) => {
                self.extra.insert(key.to_string(), v.into());
            }
            ("TimerScale" | "VpcConf" | "VolumesConf" | "PublicNetConf", Json(v)) => {
                self.extra.insert(key.to_string(), v);
            }
            (known, value) if expected_field(known).is_some() => {
                return Err(format!(
                    "Items[{known}] takes {}, not {}",
                    expected_field(known).unwrap_or_default(),
                    value.kind()
                ));
            }
            (unknown, _) => return Err(format!("Items: `{unknown}` is not a configuration key")),
        }
        if self.min_num > self.max_num {
            return Err(format!(
                "Items: MinNum {} is above MaxNum {}",
                self.min_num, self.max_num
            ));
        }
        Ok(())
    }
}

fn expected_field(key: &str) -> Option<&'static str> {
    Some(match key {
        "MinNum" | "MaxNum" | "Port" | "InitialDelaySeconds" => "IntValue",
        "CpuSpecs" | "MemSpecs" => "FloatValue",
        "HasDockerfile" => "BoolValue",
        "AccessTypes" | "EntryPoint" | "Cmd" => "ArrayValue",
        "PolicyDetails" => "PolicyDetails",
        "EnvParam" | "LogPath" | "Dockerfile" | "BuildDir" | "Tag" | "LogType"
        | "InternalAccess" | "SessionAffinity" | "OperationMode" | "LogSetId" | "LogTopicId"
        | "LogParseType" => "Value",
        "TimerScale" => "TimerScale",
        "VpcConf" => "VpcConf",
        "VolumesConf" => "VolumesConf",
        "PublicNetConf" => "PublicNetConf",
        _ => return None,
    })
}

fn non_negative(key: &str, v: i64) -> Result<i64, ItemError> {
    if v < 0 {
        return Err(format!("Items[{key}]: {v} is negative"));
    }
    Ok(v)
}

fn one_of(key: &str, v: String, allowed: &[&str]) -> Result<String, ItemError> {
    if allowed.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(format!(
            "Items[{key}]: `{v}` is not one of {}",
            allowed.join(", ")
        ))
    }
}

fn access_types(v: Vec<String>) -> Result<Vec<String>, ItemError> {
    for t in &v {
        one_of(
            "AccessTypes",
            t.clone(),
            &["PUBLIC", "OA", "MINIAPP", "VPC"],
        )?;
    }
    Ok(v)
}

/// `EnvParam` is a JSON object serialised into a string: `"{\"K\":\"V\"}"`.
fn env_params(v: String) -> Result<String, ItemError> {
    if v.is_empty() {
        return Ok(v);
    }
    match serde_json::from_str::<serde_json::Value>(&v) {
        Ok(serde_json::Value::Object(_)) => Ok(v),
        _ => Err(
            "Items[EnvParam] must be a JSON object in a string, e.g. \"{\\\"K\\\":\\\"V\\\"}\""
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConfigValue::*;

    #[test]
    fn typed_items_change_the_config() {
        let mut c = ServiceConfig::default();
        c.apply("Port", Int(8080)).unwrap();
        c.apply("MaxNum", Int(10)).unwrap();
        c.apply("MinNum", Int(1)).unwrap();
        c.apply("CpuSpecs", Float(1.0)).unwrap();
        c.apply("AccessTypes", Array(vec!["OA".into(), "PUBLIC".into()]))
            .unwrap();
        c.apply("EnvParam", Str(r#"{"A":"1"}"#.into())).unwrap();
        assert_eq!((c.port, c.min_num, c.max_num, c.cpu), (8080, 1, 10, 1.0));
        assert_eq!(c.access_types, vec!["OA", "PUBLIC"]);
    }

    #[test]
    fn a_value_in_the_wrong_field_or_out_of_range_is_named() {
        let mut c = ServiceConfig::default();
        let err = c.apply("MinNum", Str("1".into())).unwrap_err();
        assert!(err.contains("IntValue") && err.contains("MinNum"), "{err}");
        assert!(c.apply("Port", Int(70_000)).unwrap_err().contains("port"));
        assert!(
            c.apply("Colour", Str("red".into()))
                .unwrap_err()
                .contains("Colour")
        );
        assert!(
            c.apply("EnvParam", Str("A=1".into()))
                .unwrap_err()
                .contains("JSON")
        );
        assert!(c.apply("AccessTypes", Array(vec!["WEB".into()])).is_err());
        assert!(c.apply("MinNum", Int(9)).unwrap_err().contains("MaxNum"));
    }
}
