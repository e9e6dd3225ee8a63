//! stub
use super::{Model, R};
pub(super) fn apply(_m: &mut Model, _a: &[String]) -> R {
    R::Nil
}
