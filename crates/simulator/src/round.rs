//! Values as an upstream system records them: to a fixed number of decimals.
//! One rounding for every world, so the same value is recorded the same way.

/// `x` rounded to `places` decimals.
pub fn decimals(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}
