use std::cmp::Ordering;

/// One search result: an id and its distance to the query (smaller is closer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The row's id (from the segment's id column).
    pub id: u64,
    /// Distance under the segment's metric; never NaN.
    pub distance: f32,
}

impl Hit {
    /// The result order: closer first, ties by lower id. A total order (`total_cmp`), so
    /// no input can make sorting panic or go inconsistent.
    pub fn rank_cmp(&self, other: &Hit) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}
