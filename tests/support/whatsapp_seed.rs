//! The seed's WhatsApp templates on both sides of the fake: as the fake Cloud API serves them
//! and as the gateway's configuration describes them, and the test configuration around them.

use serde_json::json;

use super::fake_whatsapp::{FakeWhatsApp, Served};

/// The seed's templates (tests/fixtures/seed000) as Meta serves them: no variables, a body
/// variable, an image header with a dynamic URL button, image and video headers with a body
/// variable, and a two-card carousel (image header, a body variable and a quick reply each).
pub fn seed_templates() -> Vec<Served> {
    let body = |text: &str| json!({"type": "BODY", "text": text});
    let media = |format: &str| json!({"type": "HEADER", "format": format});
    let card = json!({"components": [media("IMAGE"), body("{{1}}"),
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Quero"}]}]});
    vec![
        Served::new("aviso_sem_variavel", json!([body("Temos novidades para você!")])),
        Served::new("email_commerce_resposta", json!([body("Olá {{1}}, seu pedido saiu para entrega.")])),
        Served::new("boas_vindas_nome", json!([body("Bem-vindo, {{1}}!")])),
        Served::new(
            "botao_url_dinamica",
            json!([media("IMAGE"), body("Seu pedido está pronto."), {"type": "FOOTER", "text": "Loja"},
                   {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Ver pedido", "url": "https://loja.example/p/{{1}}"}]}]),
        ),
        Served::new("promo_imagem", json!([media("IMAGE"), body("Oi {{1}}, olha essa promoção!")])),
        Served::new("promo_video", json!([media("VIDEO"), body("Oi {{1}}, assista ao vídeo!")])),
        Served::new(
            "carrossel_aulas",
            json!([body("Conheça nossas aulas"), {"type": "CAROUSEL", "cards": [card.clone(), card]}]),
        ),
    ]
}

/// The same templates described in the gateway's configuration (channel `wa`).
pub const SEED_TEMPLATES_TOML: &str = r#"
[[tenants.templates]]
id = "t_none"
channel = "wa"
name = "aviso_sem_variavel"
body = "Temos novidades para você!"

[[tenants.templates]]
id = "t_order"
channel = "wa"
name = "email_commerce_resposta"
body = "Olá {{1}}, seu pedido saiu para entrega."

[[tenants.templates]]
id = "t_welcome"
channel = "wa"
name = "boas_vindas_nome"
body = "Bem-vindo, {{1}}!"

[[tenants.templates]]
id = "t_url"
channel = "wa"
name = "botao_url_dinamica"
header = "image"
body = "Seu pedido está pronto."
buttons = [{type = "url", dynamic = true, text = "Ver pedido"}]

[[tenants.templates]]
id = "t_image"
channel = "wa"
name = "promo_imagem"
header = "image"
body = "Oi {{1}}, olha essa promoção!"

[[tenants.templates]]
id = "t_video"
channel = "wa"
name = "promo_video"
header = "video"
body = "Oi {{1}}, assista ao vídeo!"

[[tenants.templates]]
id = "t_carousel"
channel = "wa"
name = "carrossel_aulas"
body = "Conheça nossas aulas"
cards = 2
header = "image"
card_body = "{{1}}"
buttons = [{type = "quick_reply", text = "Quero"}]
"#;

/// The development tenant `mybot` (LIME key, REST key `wk_test_123`) with the WhatsApp
/// channel `wa` on `fake` (`channel_extra`: more keys of it) and `rest` (more TOML).
pub fn config_text(fake: &FakeWhatsApp, channel_extra: &str, rest: &str) -> String {
    format!(
        "[campaigns]\nretry_backoff_ms = 50\n\n[[tenants]]\nidentifier = \"mybot\"\naccess_key = \"c2VjcmV0\"\n\
         api_keys = [\"wk_test_123\"]\n\n{}\n{rest}\n",
        fake.channel_toml("wa", channel_extra)
    )
}

/// [`config_text`] with the seed's templates, parsed.
pub fn config(fake: &FakeWhatsApp, channel_extra: &str, rest: &str) -> irisgate::Config {
    let text = config_text(fake, channel_extra, &format!("{SEED_TEMPLATES_TOML}\n{rest}"));
    irisgate::Config::parse(&text).unwrap_or_else(|e| panic!("test config: {e:?}"))
}
