//! `/webhooks/whatsapp`: the Cloud API subscription handshake and signed status webhooks (not built yet).
