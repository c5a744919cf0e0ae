//! File uploads from the console (packages, symbol files): the one small script of the console.
//! A `form.upload` sends its chosen file as the request body to its `data-url`, its other fields
//! in the query and the anti-forgery value as a header, showing the upload's progress; the
//! server answers `{"done": URL}` (where to go next) or `{"message"}` with the error's status.
//! Without JavaScript the form says which CLI command does it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};
use serde_json::json;

use crate::error::ApiError;

const SCRIPT: &str = r#"
for (const form of document.querySelectorAll('form.upload')) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const file = form.querySelector('input[type=file]').files[0];
    const query = new URLSearchParams();
    for (const field of form.elements) {
      if (field.name && field.type !== 'file' && field.value.trim()) query.set(field.name, field.value.trim());
    }
    const progress = form.querySelector('progress');
    const status = form.querySelector('[role=status]');
    const button = form.querySelector('button');
    const fail = (message) => { status.className = 'error'; status.textContent = message; button.disabled = false; };
    const request = new XMLHttpRequest();
    request.open('POST', form.dataset.url + '?' + query);
    request.setRequestHeader('x-csrf-token', form.dataset.csrf);
    request.setRequestHeader('content-type', 'application/octet-stream');
    request.upload.onprogress = (progressEvent) => {
      if (progressEvent.lengthComputable) progress.value = Math.round(progressEvent.loaded * 100 / progressEvent.total);
    };
    request.onload = () => {
      let answer = {};
      try { answer = JSON.parse(request.responseText); } catch (_) {}
      if (request.status === 201 && answer.done) location.assign(answer.done);
      else fail(answer.message || ('the upload failed: HTTP ' + request.status));
    };
    request.onerror = () => fail('the upload did not reach the server');
    progress.hidden = false;
    progress.value = 0;
    status.className = '';
    status.textContent = 'Uploading ' + file.name + '…';
    button.disabled = true;
    request.send(file);
  });
}
"#;

/// The end of an upload form: the file input, the button, the progress bar and the status line.
pub fn file_field(button: &str, cli: &str) -> Markup {
    html! {
        label { "File " input type="file" name="file" required; }
        button type="submit" { (button) }
        progress max="100" value="0" hidden {}
        p role="status" {}
        noscript { p.muted { "Uploading from the console needs JavaScript; " code { (cli) } " does it without." } }
    }
}

/// The script that drives every `form.upload` of the page; once per page.
pub fn script() -> Markup {
    html! { script { (PreEscaped(SCRIPT)) } }
}

/// An upload accepted: the page goes on to `done`.
pub fn done(done: String) -> Response {
    (StatusCode::CREATED, Json(json!({ "done": done }))).into_response()
}

/// An upload refused, as the script shows it.
pub fn refused(error: ApiError) -> Response {
    (error.status, Json(json!({ "message": error.message }))).into_response()
}
