//! sts models (generated field for field from the official API description; see the module docs).

use super::Sensitive;

api_object! {
    /// `AssumeRoleWithWebIdentityRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct AssumeRoleWithWebIdentityRequest {
        "ProviderId" provider_id: String,
        "WebIdentityToken" web_identity_token: Sensitive,
        "RoleArn" role_arn: String,
        "RoleSessionName" role_session_name: String,
        "DurationSeconds" duration_seconds: Option<i64>,
    }
}

api_object! {
    #[output]
    /// `AssumeRoleWithWebIdentityResponse` (response).
    #[serde(default)]
    pub struct AssumeRoleWithWebIdentityResponse {
        "ExpiredTime" expired_time: u64,
        "Expiration" expiration: String,
        "Credentials" credentials: Credentials,
        "RequestId" request_id: String,
    }
}

api_object! {
    #[output]
    /// `Credentials` (output).
    #[serde(default)]
    pub struct Credentials {
        "Token" token: Sensitive,
        "TmpSecretId" tmp_secret_id: String,
        "TmpSecretKey" tmp_secret_key: Sensitive,
    }
}

registry! {
    AssumeRoleWithWebIdentityRequest,
    AssumeRoleWithWebIdentityResponse,
    Credentials,
}
