//! `/webhooks/rbm`: Google RBM webhook verification and events (not built yet).
