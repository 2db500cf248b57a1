//! The server side of the models: a request body checked the way the cloud checks it, then
//! read into its typed request.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ApiObject, ApiType, Field, Request, Service};

/// Why the cloud would refuse a request before running it, with the code it answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The action does not exist (or is not one the suite models).
    #[error("The action `{action}` is not valid for this endpoint.")]
    InvalidAction { action: String },
    /// A field the API does not define. `path` is dotted, list items by index (`Items.0.Foo`).
    #[error("The parameter `{path}` is not recognized.")]
    UnknownParameter { path: String },
    /// A required field is absent (or null).
    #[error("The request is missing a required parameter `{path}`.")]
    MissingParameter { path: String },
    /// A field has the wrong JSON type.
    #[error("The value type of parameter `{path}` is not valid: expected {expected}.")]
    InvalidParameterValue { path: String, expected: String },
    /// The body is not a JSON object at all.
    #[error("The request body is not valid: {reason}.")]
    InvalidParameter { reason: String },
}

impl RequestError {
    /// The Tencent Cloud error code the cloud answers with.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::InvalidAction { .. } => "InvalidAction",
            RequestError::UnknownParameter { .. } => "UnknownParameter",
            RequestError::MissingParameter { .. } => "MissingParameter",
            RequestError::InvalidParameterValue { .. } => "InvalidParameterValue",
            RequestError::InvalidParameter { .. } => "InvalidParameter",
        }
    }
}

impl Request {
    /// Parses the body of `action` (its `X-TC-Action`), checking it as the cloud does: an
    /// unknown action, then unknown fields, missing required fields and wrong types (nested
    /// structures included), each with the cloud's error code.
    pub fn parse(action: &str, body: &[u8]) -> Result<Request, RequestError> {
        let Some(info) = super::ActionInfo::find(action) else {
            return Err(RequestError::InvalidAction {
                action: action.to_string(),
            });
        };
        let mut value: Value =
            serde_json::from_slice(body).map_err(|e| RequestError::InvalidParameter {
                reason: format!("malformed JSON ({e})"),
            })?;
        normalize(info.service, info.request, &mut value)?;
        super::parse_typed(action, &value)
    }
}

/// Checks `value` against the field table of the structure `name` of `service`.
pub fn validate(service: Service, name: &str, value: &Value) -> Result<(), RequestError> {
    normalize(service, name, &mut value.clone())
}

/// [`validate`], and turns numeric strings in number fields into numbers. The gateway reads
/// them (API 3.0 also takes every parameter as a query string), and the official
/// description's own example sends `"DurationSeconds": "1800"`.
pub fn normalize(service: Service, name: &str, value: &mut Value) -> Result<(), RequestError> {
    let checker = Checker {
        tables: tables(service),
    };
    if !value.is_object() {
        return Err(RequestError::InvalidParameter {
            reason: "the body must be a JSON object".to_string(),
        });
    }
    checker.object(name, value, "")
}

/// The field tables of a service, built once per process (the emulator checks every request).
fn tables(service: Service) -> &'static HashMap<&'static str, Vec<Field>> {
    static TCBR: OnceLock<HashMap<&'static str, Vec<Field>>> = OnceLock::new();
    static STS: OnceLock<HashMap<&'static str, Vec<Field>>> = OnceLock::new();
    static TCR: OnceLock<HashMap<&'static str, Vec<Field>>> = OnceLock::new();
    let cell = match service {
        Service::Tcbr => &TCBR,
        Service::Sts => &STS,
        Service::Tcr => &TCR,
    };
    cell.get_or_init(|| service.objects().into_iter().collect())
}

struct Checker<'a> {
    tables: &'a HashMap<&'static str, Vec<Field>>,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Checker<'_> {
    fn object(&self, name: &str, value: &mut Value, prefix: &str) -> Result<(), RequestError> {
        let fields = self.tables.get(name).map(Vec::as_slice).unwrap_or_default();
        let Value::Object(map) = value else {
            unreachable!("callers check the value is an object")
        };
        if let Some(unknown) = map
            .keys()
            .find(|k| !fields.iter().any(|f| f.wire == k.as_str()))
        {
            return Err(RequestError::UnknownParameter {
                path: join(prefix, unknown),
            });
        }
        for field in fields {
            let path = join(prefix, field.wire);
            match map.get_mut(field.wire) {
                None | Some(Value::Null) if field.optional => {}
                None | Some(Value::Null) => return Err(RequestError::MissingParameter { path }),
                Some(item) => self.value(&field.ty, item, &path)?,
            }
        }
        Ok(())
    }

    fn value(&self, ty: &ApiType, value: &mut Value, path: &str) -> Result<(), RequestError> {
        coerce_number(ty, value);
        let ok = match ty {
            ApiType::String => value.is_string(),
            ApiType::Int64 => value.is_i64(),
            ApiType::UInt64 => value.is_u64(),
            ApiType::Float => value.is_number(),
            ApiType::Bool => value.is_boolean(),
            ApiType::List(inner) => {
                let Value::Array(items) = value else {
                    return Err(mistyped(ty, path));
                };
                for (index, item) in items.iter_mut().enumerate() {
                    self.value(inner, item, &format!("{path}.{index}"))?;
                }
                true
            }
            ApiType::Object(name) => {
                if !value.is_object() {
                    return Err(mistyped(ty, path));
                }
                return self.object(name, value, path);
            }
        };
        if ok { Ok(()) } else { Err(mistyped(ty, path)) }
    }
}

/// `"1800"` → `1800` for a number field; anything else is left for the type check.
fn coerce_number(ty: &ApiType, value: &mut Value) {
    let Value::String(text) = value else { return };
    let number = match ty {
        ApiType::Int64 => text.trim().parse::<i64>().ok().map(Value::from),
        ApiType::UInt64 => text.trim().parse::<u64>().ok().map(Value::from),
        ApiType::Float => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::from),
        _ => None,
    };
    if let Some(number) = number {
        *value = number;
    }
}

fn mistyped(ty: &ApiType, path: &str) -> RequestError {
    RequestError::InvalidParameterValue {
        path: path.to_string(),
        expected: describe(ty),
    }
}

fn describe(ty: &ApiType) -> String {
    match ty {
        ApiType::String => "a string".into(),
        ApiType::Int64 => "an integer".into(),
        ApiType::UInt64 => "a non-negative integer".into(),
        ApiType::Float => "a number".into(),
        ApiType::Bool => "a boolean".into(),
        ApiType::List(inner) => format!("a list of {}", describe(inner)),
        ApiType::Object(name) => format!("an object ({name})"),
    }
}

/// Reads a checked body into its typed request.
pub(super) fn typed<T: DeserializeOwned + ApiObject>(value: &Value) -> Result<T, RequestError> {
    serde_json::from_value(value.clone()).map_err(|e| RequestError::InvalidParameter {
        reason: format!("{} does not match {} ({e})", "the body", T::NAME),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcb::models::tcbr;

    fn parse(action: &str, body: &str) -> Result<Request, RequestError> {
        Request::parse(action, body.as_bytes())
    }

    #[test]
    fn a_valid_request_is_typed() {
        let body = r#"{"EnvId":"env-1","ServerName":"api","DeployInfo":{"DeployType":"image",
            "ImageUrl":"nginx","ReleaseType":"GRAY"},"Items":[{"Key":"MinNum","IntValue":1},
            {"Key":"CpuSpecs","FloatValue":0.5}]}"#;
        let Request::UpdateCloudRunServer(request) = parse("UpdateCloudRunServer", body).unwrap()
        else {
            panic!("wrong variant")
        };
        assert_eq!(request.env_id, "env-1");
        assert_eq!(request.deploy_info.release_type.as_deref(), Some("GRAY"));
        let items = request.items.unwrap();
        assert_eq!(items[0].int_value, Some(1));
        assert_eq!(items[1].float_value, Some(0.5));
    }

    #[test]
    fn errors_carry_the_cloud_codes_and_name_the_parameter() {
        let cases = [
            (
                "DescribeCloudRunEnv",
                "{}",
                "InvalidAction",
                "DescribeCloudRunEnv",
            ),
            (
                "DescribeEnvBaseInfo",
                r#"{"EnvId":"e","Foo":1}"#,
                "UnknownParameter",
                "`Foo`",
            ),
            ("DescribeEnvBaseInfo", "{}", "MissingParameter", "`EnvId`"),
            (
                "DescribeEnvBaseInfo",
                r#"{"EnvId":null}"#,
                "MissingParameter",
                "`EnvId`",
            ),
            (
                "DescribeEnvBaseInfo",
                r#"{"EnvId":5}"#,
                "InvalidParameterValue",
                "`EnvId`",
            ),
            (
                "DescribeEnvBaseInfo",
                "{not json",
                "InvalidParameter",
                "malformed",
            ),
            ("DescribeEnvBaseInfo", "[]", "InvalidParameter", "object"),
            (
                "DescribeServerManageTask",
                r#"{"EnvId":"e","ServerName":"s","TaskId":"zero"}"#,
                "InvalidParameterValue",
                "`TaskId`",
            ),
            (
                "UpdateCloudRunServer",
                r#"{"EnvId":"e","ServerName":"s","DeployInfo":{"DeployType":"image","Foo":1}}"#,
                "UnknownParameter",
                "`DeployInfo.Foo`",
            ),
            (
                "UpdateCloudRunServer",
                r#"{"EnvId":"e","ServerName":"s","DeployInfo":{}}"#,
                "MissingParameter",
                "`DeployInfo.DeployType`",
            ),
            (
                "UpdateCloudRunServer",
                r#"{"EnvId":"e","ServerName":"s","DeployInfo":{"DeployType":"image"},"Items":[{"Key":"MinNum","IntValue":1.5}]}"#,
                "InvalidParameterValue",
                "`Items.0.IntValue`",
            ),
            (
                "ReleaseGray",
                r#"{"EnvId":"e","ServerName":"s","GrayType":"gray","TrafficType":"FLOW","VersionFlowItems":{}}"#,
                "InvalidParameterValue",
                "`VersionFlowItems`",
            ),
        ];
        for (action, body, code, needle) in cases {
            let error = parse(action, body).expect_err(body);
            assert_eq!(error.code(), code, "{action} {body}: {error}");
            assert!(error.to_string().contains(needle), "{error} lacks {needle}");
        }
    }

    #[test]
    fn optional_nulls_are_absent_and_undocumented_close_gray_is_accepted() {
        let body = r#"{"EnvId":"e","ServerName":"s","GrayType":"gray","TrafficType":"FLOW",
            "GrayFlowRatio":null,"CloseGrayRelease":true,
            "VersionFlowItems":[{"VersionName":"s-001","IsDefaultPriority":true,"FlowRatio":100}]}"#;
        let Request::ReleaseGray(request) = parse("ReleaseGray", body).unwrap() else {
            panic!("wrong variant")
        };
        assert_eq!(request.gray_flow_ratio, None);
        assert_eq!(request.close_gray_release, Some(true));
    }

    #[test]
    fn numeric_strings_are_read_as_numbers_in_number_fields_only() {
        let body = r#"{"EnvId":"e","ServerName":"s","TaskId":"42"}"#;
        let Request::DescribeServerManageTask(request) =
            parse("DescribeServerManageTask", body).unwrap()
        else {
            panic!("wrong variant")
        };
        assert_eq!(request.task_id, 42);
        let error = parse("DescribeEnvBaseInfo", r#"{"EnvId":1}"#).unwrap_err();
        assert_eq!(error.code(), "InvalidParameterValue");
        let body = r#"{"ProviderId":"p","WebIdentityToken":"t","RoleArn":"r","RoleSessionName":"n","DurationSeconds":"-1"}"#;
        assert!(parse("AssumeRoleWithWebIdentity", body).is_ok());
    }

    #[test]
    fn responses_read_null_and_missing_fields_as_defaults_and_ignore_new_ones() {
        let body = r#"{"IsExist":true,"Task":{"Id":3,"Steps":null,"Status":null,"NewField":1},
            "RequestId":"r"}"#;
        let response: tcbr::DescribeServerManageTaskResponse = serde_json::from_str(body).unwrap();
        assert_eq!(response.task.id, 3);
        assert!(response.task.steps.is_empty());
        assert_eq!(response.task.status, "");
        let empty: tcbr::DescribeCloudRunServerDetailResponse =
            serde_json::from_str(r#"{"BaseInfo":null,"RequestId":"r"}"#).unwrap();
        assert_eq!(empty.base_info, tcbr::ServerBaseInfo::default());
    }

    #[test]
    fn serialisation_leaves_out_absent_options_and_round_trips() {
        let request = tcbr::DescribeServerManageTaskRequest {
            env_id: "e".into(),
            server_name: "s".into(),
            task_id: 0,
            operator_remark: None,
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(json, r#"{"EnvId":"e","ServerName":"s","TaskId":0}"#);
        let back = parse("DescribeServerManageTask", &json).unwrap();
        assert_eq!(back, Request::DescribeServerManageTask(request));
        assert_eq!(back.action(), "DescribeServerManageTask");
        assert_eq!(back.service(), Service::Tcbr);
    }
}
