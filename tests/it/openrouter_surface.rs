//! OpenRouter's account and catalogue routes beside the proxy: `/credits` for the calling key and
//! `/models/{author}/{slug}/endpoints` for every provider of a model, in OpenRouter's shapes.

use crate::common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn credits_report_the_keys_limit_and_what_it_spent() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default().provider(ProviderSpec::new("eu", &fake.base_url, "eu", "FR")).start();
    let limited = create_key(&gw.data_dir(), "limited", "payroll", Some(2.5));
    let (status, before) = gw.get("/api/v1/credits", Some(&limited)).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["data"], json!({"total_credits": 2.5, "total_usage": 0.0}));
    let resp = gw
        .client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(&limited)
        .json(&user("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, after) = gw.get("/v1/credits", Some(&limited)).await;
    // The fake reports 10 prompt and 5 completion tokens at 1 and 2 USD per million.
    assert_eq!(after["data"]["total_usage"].as_f64(), Some(0.00002), "{after}");
    let (_, unlimited) = gw.get("/api/v1/credits", None).await;
    assert_eq!(unlimited["data"]["total_credits"], Value::Null);
    assert_eq!(gw.get("/api/v1/credits", Some("")).await.0, 401);
}

#[tokio::test]
async fn model_endpoints_list_every_provider_with_place_price_and_limits() {
    let gw = GatewayBuilder::default().demo().start();
    let (status, body) = gw.get("/api/v1/models/demo/echo/endpoints", Some("")).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["id"], "demo/echo");
    let endpoints = data["endpoints"].as_array().unwrap();
    let names: Vec<&str> = endpoints.iter().map(|e| e["provider_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["demo-ch", "demo-us"]);
    let ch = &endpoints[0];
    assert_eq!(
        (ch["region"].as_str(), ch["country"].as_str(), ch["zdr"].as_bool()),
        (Some("ch"), Some("CH"), Some(true))
    );
    assert_eq!(ch["pricing"]["prompt"], "0.0000001");
    assert_eq!(endpoints[1]["pricing"]["prompt"], "0.00000005", "each provider its own price");
    assert_eq!(ch["context_length"], 32768);
    assert_eq!(ch["max_completion_tokens"], 4096);
    assert_eq!((ch["status"].as_i64(), ch["breaker"].as_str()), (Some(0), Some("closed")));
    assert!(ch["supported_parameters"].as_array().unwrap().iter().any(|p| p == "tools"));
    let (status, missing) = gw.get("/v1/models/nobody/nothing/endpoints", Some("")).await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "model_not_found");
}
