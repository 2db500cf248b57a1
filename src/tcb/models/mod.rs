//! Typed request and response models for the actions the suite uses, field for field as the
//! official API description spells them (PascalCase on the wire).
//!
//! Every struct is declared through [`api_object!`], which derives the serde code *and* a field
//! table ([`ApiObject::fields`]) from the same declaration, so the conformance test
//! (tests/tcb.rs) compares exactly what serde reads and writes with the official description.
//!
//! Requiredness: a request field is `Option` when the API marks it optional. A response field
//! is `Option` when the API says the cloud may omit it or send null; the other response fields
//! still default when absent, so a reply that lacks one never breaks a deploy.
//!
//! [`Request::parse`] is the server side: it validates a request body against the field tables
//! the way the cloud does (unknown, missing and mistyped parameters, with the cloud's error
//! codes) and returns the typed request.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The type of one field as the API description names it (`type` and `member`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiType {
    String,
    /// `int` / `int64`.
    Int64,
    /// `int` / `uint64`.
    UInt64,
    Float,
    Bool,
    List(Box<ApiType>),
    /// A nested structure, by its name in the description.
    Object(&'static str),
}

/// One field of a model: its wire name, its type and whether it may be absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub wire: &'static str,
    pub ty: ApiType,
    pub optional: bool,
}

/// A Rust type that stands for an API type. `Option<T>` marks an optional field.
pub trait ApiValue {
    fn api_type() -> ApiType;
    const OPTIONAL: bool = false;
    /// Whether serialisation leaves the field out (only an absent `Option`).
    fn is_absent(&self) -> bool {
        false
    }
}

/// A structure of the API description.
pub trait ApiObject {
    /// The structure's name in the description (`DeployParam`, `UpdateCloudRunServerRequest`).
    const NAME: &'static str;
    fn fields() -> Vec<Field>;
}

macro_rules! scalar {
    ($($rust:ty => $api:ident),* $(,)?) => {
        $(impl ApiValue for $rust {
            fn api_type() -> ApiType {
                ApiType::$api
            }
        })*
    };
}
scalar!(String => String, i64 => Int64, u64 => UInt64, f64 => Float, bool => Bool, Sensitive => String);

impl<T: ApiValue> ApiValue for Vec<T> {
    fn api_type() -> ApiType {
        ApiType::List(Box::new(T::api_type()))
    }
}

impl<T: ApiValue> ApiValue for Option<T> {
    fn api_type() -> ApiType {
        T::api_type()
    }
    const OPTIONAL: bool = true;
    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

/// A string the API carries that is a credential (a token, a temporary key): serialised as
/// is, never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitive(pub String);

impl Sensitive {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl From<&str> for Sensitive {
    fn from(value: &str) -> Self {
        Sensitive(value.to_string())
    }
}

impl From<String> for Sensitive {
    fn from(value: String) -> Self {
        Sensitive(value)
    }
}

/// Declares one API structure: the serde struct and its field table, from one list of
/// `"WireName" rust_name: Type` lines. `#[output]` marks a structure the cloud sends: its fields
/// also read `null` as their default, as the cloud sends null for fields it calls required.
macro_rules! api_object {
    (#[output] $($rest:tt)*) => {
        api_object!(@emit [all()] $($rest)*);
    };
    // `$output` is a cfg predicate: `all()` (always true) for output structures, `any()` not.
    (@emit [$output:meta]
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* $wire:literal $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[cfg_attr($output, serde(default, deserialize_with = "crate::tcb::models::null_as_default"))]
                #[serde(rename = $wire, skip_serializing_if = "crate::tcb::models::ApiValue::is_absent")]
                pub $field: $ty,
            )*
        }

        impl crate::tcb::models::ApiObject for $name {
            const NAME: &'static str = stringify!($name);
            fn fields() -> Vec<crate::tcb::models::Field> {
                vec![$(crate::tcb::models::Field {
                    wire: $wire,
                    ty: <$ty as crate::tcb::models::ApiValue>::api_type(),
                    optional: <$ty as crate::tcb::models::ApiValue>::OPTIONAL,
                }),*]
            }
        }

        impl crate::tcb::models::ApiValue for $name {
            fn api_type() -> crate::tcb::models::ApiType {
                crate::tcb::models::ApiType::Object(stringify!($name))
            }
        }
    };
    ($($rest:tt)*) => {
        api_object!(@emit [any()] $($rest)*);
    };
}

/// Reads `null` as the type's default (for fields of structures the cloud sends).
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Lists a service's structures so nested ones can be found by name.
macro_rules! registry {
    ($($name:ident),* $(,)?) => {
        /// Every structure of this service the suite models, by name, with its field table.
        pub fn objects() -> Vec<(&'static str, Vec<crate::tcb::models::Field>)> {
            use crate::tcb::models::ApiObject;
            vec![$(($name::NAME, $name::fields())),*]
        }
    };
}

pub mod sts;
pub mod tcbr;
pub mod tcr;

mod request;
pub use request::{RequestError, validate};

/// A Tencent Cloud product API the suite calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Tcbr,
    Sts,
    Tcr,
}

impl Service {
    /// The credential-scope service and first label of the public host.
    pub fn name(self) -> &'static str {
        match self {
            Service::Tcbr => "tcbr",
            Service::Sts => "sts",
            Service::Tcr => "tcr",
        }
    }

    /// The API version every action of this service is called with.
    pub fn version(self) -> &'static str {
        match self {
            Service::Tcbr => "2022-02-17",
            Service::Sts => "2018-08-13",
            Service::Tcr => "2019-09-24",
        }
    }

    /// Every structure the suite models for this service.
    pub fn objects(self) -> Vec<(&'static str, Vec<Field>)> {
        match self {
            Service::Tcbr => tcbr::objects(),
            Service::Sts => sts::objects(),
            Service::Tcr => tcr::objects(),
        }
    }

    pub fn all() -> [Service; 3] {
        [Service::Tcbr, Service::Sts, Service::Tcr]
    }
}

/// Fields real Tencent clients send that the public description omits, as
/// (service, structure, field). The conformance test holds these apart: each must still be
/// absent from the description (so we learn when it is documented).
/// `CloseGrayRelease`: sent by `@cloudbase/manager-node` to close a gray release on promote.
pub const UNDOCUMENTED_FIELDS: &[(&str, &str, &str)] =
    &[("tcbr", "ReleaseGrayRequest", "CloseGrayRelease")];

/// One API action: its request type names the response type, the service and whether the call
/// changes state (a mutating call is never retried blindly).
pub trait Action: Serialize + DeserializeOwned + ApiObject + fmt::Debug {
    type Response: DeserializeOwned + Serialize + ApiObject + fmt::Debug;
    const SERVICE: Service;
    /// The `X-TC-Action` name.
    const ACTION: &'static str;
    const MUTATING: bool;
}

/// Declares the actions: the [`Action`] impls and the [`Request`] enum, from one table.
macro_rules! actions {
    ($($service:ident $action:ident $request:ty => $response:ty, $mutating:literal;)*) => {
        $(
            impl Action for $request {
                type Response = $response;
                const SERVICE: Service = Service::$service;
                const ACTION: &'static str = stringify!($action);
                const MUTATING: bool = $mutating;
            }
        )*

        /// A parsed request, one variant per action the suite (and the emulator) serves.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Request {
            $($action($request)),*
        }

        impl Request {
            /// The action name, as `X-TC-Action` carries it.
            pub fn action(&self) -> &'static str {
                match self {
                    $(Request::$action(_) => stringify!($action)),*
                }
            }

            /// The service the action belongs to.
            pub fn service(&self) -> Service {
                match self {
                    $(Request::$action(_) => Service::$service),*
                }
            }

            /// The request body as JSON (what a client would send).
            pub fn to_json(&self) -> Value {
                match self {
                    $(Request::$action(r) => serde_json::to_value(r).unwrap_or_default()),*
                }
            }
        }

        /// Every action the suite models.
        pub fn actions() -> Vec<ActionInfo> {
            vec![$(ActionInfo {
                service: Service::$service,
                name: stringify!($action),
                request: <$request as ApiObject>::NAME,
                response: <$response as ApiObject>::NAME,
                mutating: $mutating,
            }),*]
        }

        fn parse_typed(action: &str, body: &Value) -> Result<Request, RequestError> {
            match action {
                $(stringify!($action) => request::typed::<$request>(body).map(Request::$action),)*
                other => Err(RequestError::InvalidAction { action: other.to_string() }),
            }
        }
    };
}

/// What the crate knows about one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionInfo {
    pub service: Service,
    pub name: &'static str,
    /// The request structure's name (`DescribeEnvBaseInfoRequest`).
    pub request: &'static str,
    /// The response structure's name.
    pub response: &'static str,
    pub mutating: bool,
}

impl ActionInfo {
    /// Looks an action up by its `X-TC-Action` name.
    pub fn find(name: &str) -> Option<ActionInfo> {
        static ALL: std::sync::OnceLock<Vec<ActionInfo>> = std::sync::OnceLock::new();
        ALL.get_or_init(actions)
            .iter()
            .find(|a| a.name == name)
            .cloned()
    }
}

actions! {
    Tcbr DescribeEnvBaseInfo tcbr::DescribeEnvBaseInfoRequest => tcbr::DescribeEnvBaseInfoResponse, false;
    Tcbr DescribeCloudRunEnvs tcbr::DescribeCloudRunEnvsRequest => tcbr::DescribeCloudRunEnvsResponse, false;
    Tcbr DescribeCloudRunServers tcbr::DescribeCloudRunServersRequest => tcbr::DescribeCloudRunServersResponse, false;
    Tcbr DescribeCloudRunServerDetail tcbr::DescribeCloudRunServerDetailRequest => tcbr::DescribeCloudRunServerDetailResponse, false;
    Tcbr CreateCloudRunServer tcbr::CreateCloudRunServerRequest => tcbr::CreateCloudRunServerResponse, true;
    Tcbr UpdateCloudRunServer tcbr::UpdateCloudRunServerRequest => tcbr::UpdateCloudRunServerResponse, true;
    Tcbr DescribeServerManageTask tcbr::DescribeServerManageTaskRequest => tcbr::DescribeServerManageTaskResponse, false;
    Tcbr DescribeCloudRunDeployRecord tcbr::DescribeCloudRunDeployRecordRequest => tcbr::DescribeCloudRunDeployRecordResponse, false;
    Tcbr DescribeCloudRunProcessLog tcbr::DescribeCloudRunProcessLogRequest => tcbr::DescribeCloudRunProcessLogResponse, false;
    Tcbr DescribeReleaseOrder tcbr::DescribeReleaseOrderRequest => tcbr::DescribeReleaseOrderResponse, false;
    Tcbr ReleaseGray tcbr::ReleaseGrayRequest => tcbr::ReleaseGrayResponse, true;
    Tcbr OperateServerManage tcbr::OperateServerManageRequest => tcbr::OperateServerManageResponse, true;
    Tcbr SubmitServerRollback tcbr::SubmitServerRollbackRequest => tcbr::SubmitServerRollbackResponse, true;
    Tcbr DescribeVersionDetail tcbr::DescribeVersionDetailRequest => tcbr::DescribeVersionDetailResponse, false;
    // Exchanging a token for temporary keys changes nothing: safe to retry.
    Sts AssumeRoleWithWebIdentity sts::AssumeRoleWithWebIdentityRequest
        => sts::AssumeRoleWithWebIdentityResponse, false;
    // A temporary registry token: another one is harmless, so it retries like a read.
    Tcr CreateInstanceToken tcr::CreateInstanceTokenRequest => tcr::CreateInstanceTokenResponse, false;
}
