//! tcr models (generated field for field from the official API description; see the module docs).

use super::Sensitive;

api_object! {
    /// `CreateInstanceTokenRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct CreateInstanceTokenRequest {
        "RegistryId" registry_id: String,
        "TokenType" token_type: Option<String>,
        "Desc" desc: Option<String>,
    }
}

api_object! {
    #[output]
    /// `CreateInstanceTokenResponse` (response).
    #[serde(default)]
    pub struct CreateInstanceTokenResponse {
        "Username" username: String,
        "Token" token: Sensitive,
        "ExpTime" exp_time: i64,
        "TokenId" token_id: String,
        "RequestId" request_id: String,
    }
}

registry! {
    CreateInstanceTokenRequest,
    CreateInstanceTokenResponse,
}
