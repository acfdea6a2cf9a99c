//! The OpenAPI schemas of amounts, which the wire types name: an amount asked for (`Milli`),
//! an amount that sums others (`Sum`), and a signed one (`SignedAmount`).

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::quota::{Milli, SignedAmount};

impl PartialSchema for Milli {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .minimum(Some(0))
            .maximum(Some(1_000_000_000_000u64))
            .multiple_of(Some(0.001))
            .description(Some("an amount in units, at most 3 decimals, exact"))
            .into()
    }
}
impl ToSchema for Milli {}

/// The schema of an amount an answer sums (a counter past its quota, a balance of many grants,
/// a summary's totals): a quantity's bound of 10^12 units holds for each amount asked, not for
/// what they add up to, which stops at the counters' exact range (2^53 milli-units).
pub struct Sum;

impl PartialSchema for Sum {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .minimum(Some(0))
            // 2^53 milli-units, in units (the nearest a float says it).
            .maximum(Some((1u64 << 53) as f64 / 1000.0))
            .multiple_of(Some(0.001))
            .description(Some("an amount in units that sums others, at most 3 decimals, exact"))
            .into()
    }
}
impl ToSchema for Sum {}

impl PartialSchema for SignedAmount {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .multiple_of(Some(0.001))
            .description(Some("a signed amount in units, at most 3 decimals"))
            .into()
    }
}
impl ToSchema for SignedAmount {}
