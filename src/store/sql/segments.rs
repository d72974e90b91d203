//! Saved segments: one row per segment, its JSON document beside the tenant, the name in the
//! form names are compared in (unique per tenant) and the creation order.

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use super::rows::{document, status_name};
use super::{db, SqlStore};
use crate::campaign::{Campaign, CampaignStatus};
use crate::error::Result;
use crate::segment::{self, Segment, SegmentDeleted};
use crate::store::rules::{duplicate_segment, segment_not_found, too_many_segments};
use crate::store::{Page, SegmentStore};

#[async_trait]
impl SegmentStore for SqlStore {
    async fn insert_segment(&self, segment: Segment, max: u64) -> Result<()> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let (held, last): (i64, i64) = {
            let row =
                sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS last FROM segments WHERE tenant = $1")
                    .bind(&segment.tenant)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            (row.try_get("n").map_err(db)?, row.try_get("last").map_err(db)?)
        };
        if held as u64 >= max {
            return Err(too_many_segments(max));
        }
        // The id is new, so the only conflict left is the unique name.
        let inserted = sqlx::query(
            "INSERT INTO segments (id, tenant, name_key, seq, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(segment.id.to_string())
        .bind(&segment.tenant)
        .bind(Segment::name_key(&segment.name))
        .bind(last + 1)
        .bind(serde_json::to_string(&segment).expect("plain data"))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if inserted.rows_affected() == 0 {
            return Err(duplicate_segment(&segment.name));
        }
        tx.commit().await.map_err(db)
    }

    async fn segment(&self, tenant: &str, id: Uuid) -> Result<Option<Segment>> {
        let row = sqlx::query("SELECT data FROM segments WHERE id = $1 AND tenant = $2")
            .bind(id.to_string())
            .bind(tenant)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.map(|r| document(&r, "segment")).transpose()
    }

    async fn segments(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Segment>)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM segments WHERE tenant = $1")
            .bind(tenant)
            .fetch_one(&self.read)
            .await
            .map_err(db)?;
        let rows = sqlx::query("SELECT data FROM segments WHERE tenant = $1 ORDER BY seq, id LIMIT $2 OFFSET $3")
            .bind(tenant)
            .bind(page.take.min(i64::MAX as u64) as i64)
            .bind(page.skip.min(i64::MAX as u64) as i64)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        let segments = rows.iter().map(|r| document(r, "segment")).collect::<Result<Vec<Segment>>>()?;
        Ok((total as u64, segments))
    }

    async fn replace_segment(&self, segment: Segment) -> Result<()> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let key = Segment::name_key(&segment.name);
        let id = segment.id.to_string();
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM segments WHERE tenant = $1 AND name_key = $2 AND id <> $3")
                .bind(&segment.tenant)
                .bind(&key)
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if taken.is_some() {
            return Err(duplicate_segment(&segment.name));
        }
        let updated = sqlx::query("UPDATE segments SET name_key = $3, data = $4 WHERE id = $1 AND tenant = $2")
            .bind(&id)
            .bind(&segment.tenant)
            .bind(&key)
            .bind(serde_json::to_string(&segment).expect("plain data"))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if updated.rows_affected() == 0 {
            return Err(segment_not_found(segment.id));
        }
        tx.commit().await.map_err(db)
    }

    async fn delete_segment(&self, tenant: &str, id: Uuid, blocking: &[CampaignStatus]) -> Result<SegmentDeleted> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let found: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM segments WHERE id = $1 AND tenant = $2{}",
            self.dialect.for_update()
        ))
        .bind(id.to_string())
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if found.is_none() {
            return Ok(SegmentDeleted::NotFound);
        }
        let mut users = Vec::new();
        for status in blocking {
            // The id in the document narrows the rows; the decoded spec decides.
            let rows = sqlx::query(
                "SELECT data FROM campaigns WHERE tenant = $1 AND status = $2 AND data LIKE $3 ORDER BY created",
            )
            .bind(tenant)
            .bind(status_name(*status))
            .bind(format!("%{id}%"))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for row in rows {
                let c: Campaign = document(&row, "campaign")?;
                if segment::uses(&c, id) {
                    users.push((c.id, c.name));
                }
            }
        }
        if !users.is_empty() {
            return Ok(SegmentDeleted::InUse(users));
        }
        sqlx::query("DELETE FROM segments WHERE id = $1 AND tenant = $2")
            .bind(id.to_string())
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(SegmentDeleted::Deleted)
    }
}
