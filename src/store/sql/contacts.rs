//! Contact rows: found by id, identity or phone, patched in bulk by the dispatcher, replaced
//! whole by the faces.

use std::collections::HashMap;

use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

use super::rows::document;
use super::{db, SqlStore, Tx};
use crate::contact::{Contact, ContactKey, ContactPatch};
use crate::error::Result;
use crate::store::rules::{apply_patch, phone_of_identity};
use crate::store::Page;

/// Contacts written by one statement. The rows travel as one JSON text bound to it; a
/// contact row is a few hundred bytes of JSON, so a statement carries about 2 MB: large
/// enough that an import of 100,000 contacts is 20 statements, small enough that no import
/// builds one huge string or holds SQLite's one writer for long at a time.
const CONTACT_ROWS_PER_STATEMENT: usize = 5_000;

pub(super) async fn find(store: &SqlStore, tenant: &str, key: &ContactKey) -> Result<Option<Contact>> {
    let row = match key {
        ContactKey::Id(id) => sqlx::query("SELECT data FROM contacts WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&store.read)
            .await
            .map_err(db)?,
        ContactKey::Phone(p) => sqlx::query("SELECT data FROM contacts WHERE tenant = $1 AND phone = $2 LIMIT 1")
            .bind(tenant)
            .bind(*p as i64)
            .fetch_optional(&store.read)
            .await
            .map_err(db)?,
        ContactKey::Identity(identity) => {
            let found = sqlx::query("SELECT data FROM contacts WHERE tenant = $1 AND identity = $2 LIMIT 1")
                .bind(tenant)
                .bind(identity.to_ascii_lowercase())
                .fetch_optional(&store.read)
                .await
                .map_err(db)?;
            match found {
                Some(r) => Some(r),
                None => match phone_of_identity(identity) {
                    Some(p) => return Box::pin(find(store, tenant, &ContactKey::Phone(p))).await,
                    None => None,
                },
            }
        }
    };
    row.map(|r| document(&r, "contact")).transpose()
}

pub(super) async fn page(store: &SqlStore, tenant: &str, page: Page) -> Result<(u64, Vec<Contact>)> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE tenant = $1")
        .bind(tenant)
        .fetch_one(&store.read)
        .await
        .map_err(db)?;
    let rows = sqlx::query("SELECT data FROM contacts WHERE tenant = $1 ORDER BY seq LIMIT $2 OFFSET $3")
        .bind(tenant)
        .bind(page.take.min(i64::MAX as u64) as i64)
        .bind(page.skip.min(i64::MAX as u64) as i64)
        .fetch_all(&store.read)
        .await
        .map_err(db)?;
    let items = rows.iter().map(|r| document(r, "contact")).collect::<Result<_>>()?;
    Ok((total as u64, items))
}

pub(super) async fn patch(store: &SqlStore, tenant: &str, patches: Vec<ContactPatch>) -> Result<()> {
    if patches.is_empty() {
        return Ok(());
    }
    let mut tx = store.write.begin().await.map_err(db)?;
    patch_in(store, &mut tx, tenant, patches).await?;
    tx.commit().await.map_err(db)
}

/// [`patch`] inside the caller's transaction.
pub(super) async fn patch_in(store: &SqlStore, tx: &mut Tx, tenant: &str, patches: Vec<ContactPatch>) -> Result<()> {
    if patches.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_millis();
    // One read of every contact the batch may touch, one write of all of them.
    let keys: Vec<Value> = patches
        .iter()
        .map(|p| json!({"identity": p.identity.as_ref().map(|i| i.to_ascii_lowercase()), "phone": p.phone.filter(|p| *p != 0).map(|p| p as i64)}))
        .collect();
    let from = store.dialect.json_rows("$2", &[("identity", "text"), ("phone", "bigint")]);
    // First the ids, by two index lookups (an OR of the two IN lists made SQLite scan
    // every contact of the workspace once per batch); then those rows by primary key,
    // locked in id order. In one statement PostgreSQL's planner, misled by a table that
    // grew since its last ANALYZE, scanned every contact of the workspace instead.
    let ids_sql = format!(
        "SELECT id FROM contacts WHERE tenant = $1 AND identity IN (SELECT identity FROM {from}) UNION \
         SELECT id FROM contacts WHERE tenant = $1 AND phone IN (SELECT phone FROM {from})"
    );
    let ids: Vec<String> = sqlx::query_scalar(&ids_sql)
        .bind(tenant)
        .bind(Value::Array(keys).to_string())
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
    let rows = if ids.is_empty() {
        Vec::new()
    } else {
        let sql = format!(
            "SELECT data FROM contacts WHERE tenant = $1 AND id IN (SELECT id FROM {}) ORDER BY id{}",
            store.dialect.json_rows("$2", &[("id", "text")]),
            store.dialect.for_update()
        );
        let ids: Vec<Value> = ids.into_iter().map(|id| json!({ "id": id })).collect();
        sqlx::query(&sql).bind(tenant).bind(Value::Array(ids).to_string()).fetch_all(&mut **tx).await.map_err(db)?
    };
    let mut contacts: Vec<Contact> = Vec::with_capacity(patches.len());
    let mut by_identity: HashMap<String, usize> = HashMap::new();
    let mut by_phone: HashMap<u64, usize> = HashMap::new();
    let mut existing = std::collections::HashSet::new();
    for row in rows {
        let c: Contact = document(&row, "contact")?;
        existing.insert(c.id.clone());
        if let Some(i) = &c.identity {
            by_identity.insert(i.to_ascii_lowercase(), contacts.len());
        }
        if let Some(p) = c.phone {
            by_phone.insert(p, contacts.len());
        }
        contacts.push(c);
    }
    let mut touched = Vec::new();
    for p in patches {
        let found = p
            .identity
            .as_ref()
            .and_then(|i| by_identity.get(&i.to_ascii_lowercase()))
            .or_else(|| p.phone.filter(|p| *p != 0).and_then(|ph| by_phone.get(&ph)))
            .copied();
        let index = match found {
            Some(i) => i,
            None => {
                // Time-ordered ids: new contacts append to the primary-key index instead of
                // splitting pages all over it (a random v4 id dirtied a page per insert).
                contacts.push(Contact { id: Uuid::now_v7().to_string(), created: now, ..Contact::default() });
                contacts.len() - 1
            }
        };
        apply_patch(&mut contacts[index], p, now);
        if let Some(i) = &contacts[index].identity {
            by_identity.insert(i.to_ascii_lowercase(), index);
        }
        if let Some(ph) = contacts[index].phone {
            by_phone.insert(ph, index);
        }
        touched.push(index);
    }
    touched.sort_unstable();
    touched.dedup();
    let base: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM contacts WHERE tenant = $1")
        .bind(tenant)
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
    let mut next = base;
    let rows: Vec<Value> = touched
        .iter()
        .map(|&i| {
            let c = &contacts[i];
            let seq = if existing.contains(&c.id) {
                0
            } else {
                next += 1;
                next
            };
            json!({"id": c.id, "identity": c.identity.as_ref().map(|x| x.to_ascii_lowercase()),
                   "phone": c.phone.map(|p| p as i64), "created": c.created, "seq": seq,
                   "data": serde_json::to_string(c).expect("plain data")})
        })
        .collect();
    for chunk in rows.chunks(CONTACT_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO contacts (tenant, id, identity, phone, created, seq, data) \
             SELECT $1, id, identity, phone, created, seq, data FROM {} WHERE true \
             ON CONFLICT (tenant, id) DO UPDATE SET identity = excluded.identity, phone = excluded.phone, data = excluded.data",
            store.dialect.json_rows(
                "$2",
                &[("id", "text"), ("identity", "text"), ("phone", "bigint"), ("created", "bigint"), ("seq", "bigint"), ("data", "text")]
            )
        );
        sqlx::query(&sql)
            .bind(tenant)
            .bind(Value::Array(chunk.to_vec()).to_string())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

pub(super) async fn put(store: &SqlStore, tenant: &str, mut contact: Contact) -> Result<Contact> {
    let now = chrono::Utc::now().timestamp_millis();
    if let Some(old) = find(store, tenant, &ContactKey::Id(contact.id.clone())).await? {
        contact.created = old.created;
    } else if contact.created == 0 {
        contact.created = now;
    }
    contact.updated = now;
    save(&store.write, tenant, &contact).await?;
    Ok(contact)
}

async fn save<'e, E>(exec: E, tenant: &str, c: &Contact) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO contacts (tenant, id, identity, phone, created, seq, data) VALUES ($1, $2, $3, $4, $5, \
         (SELECT COALESCE(MAX(seq), 0) + 1 FROM contacts WHERE tenant = $1), $6) \
         ON CONFLICT (tenant, id) DO UPDATE SET identity = excluded.identity, phone = excluded.phone, data = excluded.data",
    )
    .bind(tenant)
    .bind(&c.id)
    .bind(c.identity.as_ref().map(|i| i.to_ascii_lowercase()))
    .bind(c.phone.map(|p| p as i64))
    .bind(c.created)
    .bind(serde_json::to_string(c).expect("plain data"))
    .execute(exec)
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn delete(store: &SqlStore, tenant: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM contacts WHERE tenant = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&store.write)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn scan(
    store: &SqlStore,
    tenant: &str,
    visit: &mut (dyn for<'c> FnMut(&'c Contact) + Send),
) -> Result<()> {
    use futures_util::TryStreamExt as _;
    let mut rows =
        sqlx::query("SELECT data FROM contacts WHERE tenant = $1 ORDER BY seq").bind(tenant).fetch(&store.read);
    while let Some(row) = rows.try_next().await.map_err(db)? {
        let c: Contact = document(&row, "contact")?;
        visit(&c);
    }
    Ok(())
}

/// `Store::contacts_of` in one statement: every row matching an identity or the phone of
/// one, then each identity's own row, else its phone's (as `find`).
pub(super) async fn of_identities(
    store: &SqlStore,
    tenant: &str,
    identities: &[String],
) -> Result<HashMap<String, Contact>> {
    if identities.is_empty() {
        return Ok(HashMap::new());
    }
    let asked: Vec<(String, Option<u64>)> =
        identities.iter().map(|i| (i.to_ascii_lowercase(), phone_of_identity(i))).collect();
    let list: Vec<Value> =
        asked.iter().map(|(i, p)| json!({"identity": i, "phone": p.map_or(-1, |p| p as i64)})).collect();
    let rows_of = store.dialect.json_rows("$2", &[("identity", "text"), ("phone", "bigint")]);
    let sql = format!(
        "SELECT identity, phone, data FROM contacts WHERE tenant = $1 AND \
         (identity IN (SELECT identity FROM {rows_of}) OR phone IN (SELECT phone FROM {rows_of}))"
    );
    let rows =
        sqlx::query(&sql).bind(tenant).bind(Value::Array(list).to_string()).fetch_all(&store.read).await.map_err(db)?;
    let (mut by_identity, mut by_phone) = (HashMap::new(), HashMap::new());
    for r in rows {
        let c: Contact = document(&r, "contact")?;
        if let Some(i) = r.try_get::<Option<String>, _>("identity").map_err(db)? {
            by_identity.entry(i).or_insert_with(|| c.clone());
        }
        if let Some(p) = r.try_get::<Option<i64>, _>("phone").map_err(db)? {
            by_phone.entry(p as u64).or_insert(c);
        }
    }
    let mut found = HashMap::with_capacity(identities.len());
    for (asked_as, (identity, phone)) in identities.iter().zip(asked) {
        let c = by_identity.get(&identity).or_else(|| phone.and_then(|p| by_phone.get(&p)));
        if let Some(c) = c {
            found.insert(asked_as.clone(), c.clone());
        }
    }
    Ok(found)
}

pub(super) async fn open_conversations(store: &SqlStore, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
    if phones.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<Value> = phones.iter().map(|p| json!({"phone": *p as i64})).collect();
    let sql = format!(
        "SELECT phone, data FROM contacts WHERE tenant = $1 AND phone IN (SELECT phone FROM {})",
        store.dialect.json_rows("$2", &[("phone", "bigint")])
    );
    let rows =
        sqlx::query(&sql).bind(tenant).bind(Value::Array(list).to_string()).fetch_all(&store.read).await.map_err(db)?;
    let mut open = Vec::new();
    for r in rows {
        let c: Contact = document(&r, "contact")?;
        if c.has_open_conversation {
            open.push(r.try_get::<i64, _>("phone").map_err(db)? as u64);
        }
    }
    Ok(open)
}
