//! People: console accounts.

use midship_api::{CreatePersonRequest, List, PersonView, PersonWithPassword, UpdatePersonRequest};
use reqwest::Method;

use super::{AdminClient, PageParams, SdkError};

impl AdminClient {
    /// Adds a person; the temporary password is in the answer only.
    pub async fn create_person(&self, request: &CreatePersonRequest) -> Result<PersonWithPassword, SdkError> {
        self.post("/api/v1/people", request).await
    }

    pub async fn list_people(&self, page: &PageParams) -> Result<List<PersonView>, SdkError> {
        self.get("/api/v1/people", page).await
    }

    pub async fn get_person(&self, person_id: &str) -> Result<PersonView, SdkError> {
        self.get(&format!("/api/v1/people/{}", Self::segment(person_id)), &()).await
    }

    pub async fn update_person(&self, person_id: &str, request: &UpdatePersonRequest) -> Result<PersonView, SdkError> {
        let path = format!("/api/v1/people/{}", Self::segment(person_id));
        self.send(self.request(Method::PATCH, &path)?.json(request)).await
    }

    /// A new temporary password (in the answer only), the authenticator app removed, sessions ended.
    pub async fn reset_person(&self, person_id: &str) -> Result<PersonWithPassword, SdkError> {
        let path = format!("/api/v1/people/{}/reset", Self::segment(person_id));
        self.send(self.request(Method::POST, &path)?).await
    }

    pub async fn sign_out_person(&self, person_id: &str) -> Result<(), SdkError> {
        let path = format!("/api/v1/people/{}/sign-out", Self::segment(person_id));
        self.no_content(self.request(Method::POST, &path)?).await
    }
}

impl AdminClient {
    /// Begins `midship login`: the codes to show and keep (needs no token).
    pub async fn start_device_login(&self, client_name: &str) -> Result<midship_api::DeviceLoginStarted, SdkError> {
        let request = midship_api::DeviceLoginRequest { client_name: client_name.to_owned() };
        self.post("/api/login/device", &request).await
    }

    /// `pending`, `approved`, `denied` or `expired`.
    pub async fn poll_device_login(&self, device_code: &str) -> Result<String, SdkError> {
        let poll = midship_api::DeviceLoginPoll { device_code: device_code.to_owned() };
        let state: midship_api::DeviceLoginState = self.post("/api/login/device/token", &poll).await?;
        Ok(state.status)
    }

    /// Ends the person's session this client's token is (`midship logout`).
    pub async fn sign_out_session(&self) -> Result<(), SdkError> {
        self.no_content(self.request(reqwest::Method::POST, "/api/login/sign-out")?).await
    }
}
