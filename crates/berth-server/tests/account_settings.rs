//! PutAccountSetting, PutAccountSettingDefault, ListAccountSettings and DeleteAccountSetting
//! through the AWS SDK for Rust, against a server on a loopback port.
//!
//! The harness's caller is the account's root user. The tests cover the values in effect and
//! their precedence (a principal's own value, then the account default, then ECS's default), the
//! per-setting rules, and that every refusal has ECS's error code and writes nothing.

mod common;

use aws_sdk_ecs::types::{ClusterField, Setting, SettingName};
use berth_api::arn::Scope;
use berth_server::Ctx;
use berth_server::ops::account_settings::effective;
use common::{TestServer, code, start};

const ROOT: &str = "arn:aws:iam::000000000000:root";
const ALICE: &str = "arn:aws:iam::000000000000:user/alice";
const DEPLOYER: &str = "arn:aws:iam::000000000000:role/ci/deployer";

/// Every setting name, in the order listings return them.
const ALL: [&str; 11] = [
    "serviceLongArnFormat",
    "taskLongArnFormat",
    "containerInstanceLongArnFormat",
    "awsvpcTrunking",
    "containerInsights",
    "fargateFIPSMode",
    "tagResourceAuthorization",
    "fargateTaskRetirementWaitPeriod",
    "guardDutyActivate",
    "defaultLogDriverMode",
    "fargateEventWindows",
];

/// The setting `name` in effect for `principal` (the caller when `None`).
async fn in_effect(server: &TestServer, principal: Option<&str>, name: &str) -> Setting {
    let out = server
        .client
        .list_account_settings()
        .name(SettingName::from(name))
        .set_principal_arn(principal.map(str::to_string))
        .effective_settings(true)
        .send()
        .await
        .expect("list effective");
    assert_eq!(out.settings().len(), 1, "{out:?}");
    out.settings()[0].clone()
}

/// The settings `principal` holds itself, as (name, value) pairs.
async fn held(server: &TestServer, principal: &str) -> Vec<(String, String)> {
    let out = server.client.list_account_settings().principal_arn(principal).send().await.expect("list");
    assert!(out.next_token().is_none());
    out.settings()
        .iter()
        .map(|s| {
            (
                s.name().map(|n| n.as_str().to_string()).unwrap_or_default(),
                s.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn value_and_principal(setting: &Setting) -> (&str, &str) {
    (setting.value().unwrap_or_default(), setting.principal_arn().unwrap_or_default())
}

#[tokio::test]
async fn ecs_defaults_apply_until_something_is_set() {
    let server = start().await;
    // The first page holds 10 of the 11 settings: that is the default page size.
    let out = server.client.list_account_settings().effective_settings(true).send().await.expect("list");
    assert!(out.next_token().is_some());
    let first: Vec<_> = out
        .settings()
        .iter()
        .map(|s| (s.name().map(|n| n.as_str()).unwrap_or_default(), s.value().unwrap_or_default()))
        .collect();
    assert_eq!(
        first,
        [
            ("serviceLongArnFormat", "enabled"),
            ("taskLongArnFormat", "enabled"),
            ("containerInstanceLongArnFormat", "enabled"),
            ("awsvpcTrunking", "disabled"),
            ("containerInsights", "disabled"),
            ("fargateFIPSMode", "disabled"),
            ("tagResourceAuthorization", "on"),
            ("fargateTaskRetirementWaitPeriod", "7"),
            ("guardDutyActivate", "off"),
            ("defaultLogDriverMode", "non-blocking"),
        ]
    );
    assert!(out.settings().iter().all(|s| s.principal_arn() == Some(ROOT)));
    let guard_duty = in_effect(&server, None, "guardDutyActivate").await;
    assert_eq!(guard_duty.r#type().map(|t| t.as_str()), Some("aws_managed"));
    assert_eq!(
        in_effect(&server, None, "containerInsights").await.r#type().map(|t| t.as_str()),
        Some("user")
    );
    assert!(held(&server, ROOT).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_principal_s_own_value_beats_the_account_default_which_beats_ecs_s() {
    let server = start().await;
    let ecs = &server.client;
    let ctx = Ctx::new(server.store.clone(), Scope::new("us-east-1", "000000000000"));
    assert_eq!(effective(&ctx, "containerInsights").await.expect("read").as_deref(), Some("disabled"));
    assert_eq!(effective(&ctx, "noSuchSetting").await.expect("read"), None);

    let default = ecs
        .put_account_setting_default()
        .name(SettingName::ContainerInsights)
        .value("enabled")
        .send()
        .await
        .expect("put default")
        .setting
        .expect("a setting");
    assert_eq!(default.name(), Some(&SettingName::ContainerInsights));
    assert_eq!(value_and_principal(&default), ("enabled", ROOT));
    assert_eq!(default.r#type().map(|t| t.as_str()), Some("user"));
    assert_eq!(effective(&ctx, "containerInsights").await.expect("read").as_deref(), Some("enabled"));
    assert_eq!(
        value_and_principal(&in_effect(&server, Some(ALICE), "containerInsights").await),
        ("enabled", ROOT)
    );

    let own = ecs
        .put_account_setting()
        .name(SettingName::ContainerInsights)
        .value("enhanced")
        .principal_arn(ALICE)
        .send()
        .await
        .expect("put for alice")
        .setting
        .expect("a setting");
    assert_eq!(value_and_principal(&own), ("enhanced", ALICE));
    assert_eq!(
        value_and_principal(&in_effect(&server, Some(ALICE), "containerInsights").await),
        ("enhanced", ALICE)
    );
    assert_eq!(
        value_and_principal(&in_effect(&server, Some(DEPLOYER), "containerInsights").await),
        ("enabled", ROOT)
    );
    assert_eq!(value_and_principal(&in_effect(&server, None, "containerInsights").await), ("enabled", ROOT));
    assert_eq!(held(&server, ALICE).await, [("containerInsights".to_string(), "enhanced".to_string())]);

    // Deleting a principal's value returns it and falls back to the account default.
    let deleted = ecs
        .delete_account_setting()
        .name(SettingName::ContainerInsights)
        .principal_arn(ALICE)
        .send()
        .await
        .expect("delete")
        .setting
        .expect("a setting");
    assert_eq!(value_and_principal(&deleted), ("enhanced", ALICE));
    assert_eq!(
        value_and_principal(&in_effect(&server, Some(ALICE), "containerInsights").await),
        ("enabled", ROOT)
    );

    // The caller (the root user) setting its own value sets the default, as ECS documents.
    ecs.put_account_setting()
        .name(SettingName::ContainerInsights)
        .value("disabled")
        .send()
        .await
        .expect("put");
    assert_eq!(
        value_and_principal(&in_effect(&server, Some(ALICE), "containerInsights").await),
        ("disabled", ROOT)
    );
    ecs.delete_account_setting().name(SettingName::ContainerInsights).send().await.expect("delete");
    assert_eq!(effective(&ctx, "containerInsights").await.expect("read").as_deref(), Some("disabled"));
    assert!(held(&server, ROOT).await.is_empty());

    // Deleting what is not held changes nothing and answers what is in effect.
    let before = server.revision().await;
    let nothing = ecs
        .delete_account_setting()
        .name(SettingName::AwsvpcTrunking)
        .principal_arn(DEPLOYER)
        .send()
        .await
        .expect("delete");
    assert_eq!(nothing.setting().map(value_and_principal), Some(("disabled", ROOT)));
    assert_eq!(server.revision().await, before);
    server.stop().await;
}

#[tokio::test]
async fn new_clusters_follow_the_account_s_container_insights() {
    let server = start().await;
    let ecs = &server.client;
    ecs.put_account_setting_default()
        .name(SettingName::ContainerInsights)
        .value("enhanced")
        .send()
        .await
        .expect("put");
    ecs.create_cluster().cluster_name("observed").send().await.expect("create cluster");
    let described = ecs
        .describe_clusters()
        .clusters("observed")
        .include(ClusterField::Settings)
        .send()
        .await
        .expect("describe");
    let settings = described.clusters()[0].settings();
    assert_eq!(settings.iter().find_map(|s| s.value()), Some("enhanced"));
    server.stop().await;
}

#[tokio::test]
async fn per_setting_rules_are_enforced_and_refusals_store_nothing() {
    let server = start().await;
    let ecs = &server.client;
    ecs.put_account_setting()
        .name(SettingName::AwsvpcTrunking)
        .value("enabled")
        .principal_arn(ALICE)
        .send()
        .await
        .expect("put");
    let put = |name: &str, value: &str| ecs.put_account_setting().name(SettingName::from(name)).value(value);
    let cases = vec![
        ("unknown name", put("dualStackIPv6", "enabled"), "InvalidParameterException"),
        (
            "no value",
            ecs.put_account_setting().name(SettingName::AwsvpcTrunking),
            "InvalidParameterException",
        ),
        ("no name", ecs.put_account_setting().value("enabled"), "InvalidParameterException"),
        ("switch value", put("awsvpcTrunking", "on"), "InvalidParameterException"),
        ("insights value", put("containerInsights", "maximal"), "InvalidParameterException"),
        ("tag authorization value", put("tagResourceAuthorization", "enabled"), "InvalidParameterException"),
        ("log driver mode", put("defaultLogDriverMode", "async"), "InvalidParameterException"),
        ("retirement wait", put("fargateTaskRetirementWaitPeriod", "3"), "InvalidParameterException"),
        ("long ARNs stay on", put("taskLongArnFormat", "disabled"), "InvalidParameterException"),
        ("guard duty is read-only", put("guardDutyActivate", "on"), "InvalidParameterException"),
        (
            "FIPS mode is account-wide",
            put("fargateFIPSMode", "enabled").principal_arn(ALICE),
            "InvalidParameterException",
        ),
        (
            "retirement wait is account-wide",
            put("fargateTaskRetirementWaitPeriod", "14").principal_arn(DEPLOYER),
            "InvalidParameterException",
        ),
        (
            "another account",
            put("awsvpcTrunking", "enabled").principal_arn("arn:aws:iam::111111111111:user/bob"),
            "InvalidParameterException",
        ),
        (
            "a federated session",
            put("awsvpcTrunking", "enabled").principal_arn("arn:aws:sts::000000000000:assumed-role/r/s"),
            "InvalidParameterException",
        ),
        (
            "an IAM group",
            put("awsvpcTrunking", "enabled").principal_arn("arn:aws:iam::000000000000:group/devs"),
            "InvalidParameterException",
        ),
        ("not an ARN", put("awsvpcTrunking", "enabled").principal_arn("alice"), "InvalidParameterException"),
    ];
    let before = server.revision().await;
    for (case, request, expected) in cases {
        assert_eq!(code(request.send().await), expected, "{case}");
        assert_eq!(server.revision().await, before, "{case} wrote to the store");
    }
    let put_default = |name: &str, value: &str| {
        ecs.put_account_setting_default().name(SettingName::from(name)).value(value)
    };
    assert_refused!(server, "InvalidParameterException", put_default("guardDutyActivate", "on").send());
    assert_refused!(server, "InvalidParameterException", put_default("containerInsights", "yes").send());
    assert_refused!(server, "InvalidParameterException", put_default("bogus", "enabled").send());
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.delete_account_setting().name(SettingName::GuardDutyActivate).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.delete_account_setting().name(SettingName::from("bogus")).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.delete_account_setting().name(SettingName::AwsvpcTrunking).principal_arn("nope").send()
    );
    assert_eq!(held(&server, ALICE).await, [("awsvpcTrunking".to_string(), "enabled".to_string())]);
    assert!(held(&server, ROOT).await.is_empty());

    // Account-wide settings are set as defaults, or for the root user.
    put_default("fargateFIPSMode", "enabled").send().await.expect("FIPS mode default");
    put("fargateTaskRetirementWaitPeriod", "14")
        .principal_arn(ROOT)
        .send()
        .await
        .expect("retirement wait for root");
    assert_eq!(
        value_and_principal(&in_effect(&server, Some(DEPLOYER), "fargateTaskRetirementWaitPeriod").await),
        ("14", ROOT)
    );
    assert_eq!(
        value_and_principal(&in_effect(&server, Some(ALICE), "fargateFIPSMode").await),
        ("enabled", ROOT)
    );
    server.stop().await;
}

#[tokio::test]
async fn listings_filter_and_paginate() {
    let server = start().await;
    let ecs = &server.client;
    for name in ["awsvpcTrunking", "fargateEventWindows", "containerInsights"] {
        ecs.put_account_setting()
            .name(SettingName::from(name))
            .value("enabled")
            .principal_arn(ALICE)
            .send()
            .await
            .expect("put");
    }

    // Effective settings, three a page: every setting once, in order.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = ecs
            .list_account_settings()
            .principal_arn(ALICE)
            .effective_settings(true)
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("a page");
        assert!(page.settings().len() <= 3);
        seen.extend(page.settings().iter().filter_map(|s| s.name().map(|n| n.as_str().to_string())));
        pages += 1;
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ALL);
    assert_eq!(pages, 4);

    // Held settings, one a page.
    let first = ecs.list_account_settings().principal_arn(ALICE).max_results(1).send().await.expect("a page");
    assert_eq!(first.settings()[0].name(), Some(&SettingName::AwsvpcTrunking));
    let token = first.next_token().expect("more pages").to_string();
    let second = ecs
        .list_account_settings()
        .principal_arn(ALICE)
        .max_results(1)
        .next_token(&token)
        .send()
        .await
        .expect("a page");
    assert_eq!(second.settings()[0].name(), Some(&SettingName::ContainerInsights));

    // A token belongs to its listing: another principal's or kind's is refused, as is garbage.
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_account_settings().principal_arn(DEPLOYER).next_token(&token).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_account_settings().principal_arn(ALICE).effective_settings(true).next_token(&token).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_account_settings().next_token("garbage").send()
    );
    for bad in [0, 11] {
        assert_refused!(
            server,
            "InvalidParameterException",
            ecs.list_account_settings().max_results(bad).send()
        );
    }

    // Filters: by name, and by value (which needs a name).
    let by_value = |value: &str| {
        ecs.list_account_settings()
            .principal_arn(ALICE)
            .name(SettingName::ContainerInsights)
            .value(value)
            .effective_settings(true)
            .send()
    };
    assert_eq!(by_value("enabled").await.expect("list").settings().len(), 1);
    assert!(by_value("enhanced").await.expect("list").settings().is_empty());
    assert_refused!(server, "InvalidParameterException", ecs.list_account_settings().value("enabled").send());
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_account_settings().name(SettingName::from("bogus")).send()
    );
    server.stop().await;
}
