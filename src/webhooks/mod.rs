//! Provider webhooks: the HTTP routes real providers call back with statuses and inbound
//! messages (`whatsapp`: Meta's Cloud API, `rbm`: Google RBM). Each verifies its signature on
//! the raw body before parsing and answers once what it carried is durable.

pub mod rbm;
pub mod whatsapp;
