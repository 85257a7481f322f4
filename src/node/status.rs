//! The HTTP status a node answers each [`ApiError`] with (`docs/API.md`,
//! "Errors"). The operations say what went wrong; which status that is
//! over HTTP is the node's choice. [`super::client`] keeps the status it
//! gets back in [`ApiError::Node`], beside the node's one line.

use axum::http::StatusCode;

use crate::api::ApiError;
use crate::store::StoreError;

/// The status an error is answered with.
pub fn of(e: &ApiError) -> StatusCode {
    match e {
        ApiError::BadRequest(_) | ApiError::Io(_) => StatusCode::BAD_REQUEST,
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ApiError::Node { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
        ApiError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
        ApiError::Store(e) => of_store(e),
    }
}

fn of_store(e: &StoreError) -> StatusCode {
    match e {
        StoreError::NoSuchBlock(_) | StoreError::NoSuchHeight { .. } | StoreError::NoSuchTx(_) => {
            StatusCode::NOT_FOUND
        }
        StoreError::AlreadyPending(_) | StoreError::AlreadyInChain(_) | StoreError::Conflict => {
            StatusCode::CONFLICT
        }
        StoreError::InvalidBlock { .. } | StoreError::Rejected(_) | StoreError::EntryRefused(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        StoreError::DiskFull | StoreError::NotSaved => StatusCode::INSUFFICIENT_STORAGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_statuses() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400),
            (ApiError::Io("x".into()), 400),
            (ApiError::Conflict("x".into()), 409),
            (ApiError::Rejected("x".into()), 422),
            (StoreError::NoSuchHeight { height: 9, tip: 1 }.into(), 404),
            (StoreError::Conflict.into(), 409),
            (StoreError::DiskFull.into(), 507),
            (
                ApiError::Node {
                    status: 422,
                    message: "x".into(),
                    code: "rejected".into(),
                },
                422,
            ),
            (
                ApiError::Unreachable {
                    address: "a".into(),
                    reason: "r".into(),
                },
                502,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(of(&e).as_u16(), want, "{e}");
        }
    }
}
