//! Attributes through the AWS SDK: PutAttributes, ListAttributes and DeleteAttributes on
//! container instances, and everything they refuse.

mod common;

use aws_sdk_ecs::types::{Attribute, ContainerInstance, Resource, TargetType};
use common::TestServer;

fn machine() -> Vec<Resource> {
    vec![
        Resource::builder().name("CPU").r#type("INTEGER").integer_value(1024).build(),
        Resource::builder().name("MEMORY").r#type("INTEGER").integer_value(2048).build(),
    ]
}

async fn setup(server: &TestServer, cluster: &str, count: usize) -> Vec<ContainerInstance> {
    server.client.create_cluster().cluster_name(cluster).send().await.expect("create cluster");
    let mut instances = Vec::new();
    for _ in 0..count {
        let registered = server
            .client
            .register_container_instance()
            .cluster(cluster)
            .set_total_resources(Some(machine()))
            .send()
            .await
            .expect("register");
        instances.push(registered.container_instance.expect("instance"));
    }
    instances.sort_by(|a, b| a.container_instance_arn().cmp(&b.container_instance_arn()));
    instances
}

fn arn(instance: &ContainerInstance) -> String {
    instance.container_instance_arn().expect("arn").to_string()
}

fn id(instance: &ContainerInstance) -> String {
    arn(instance).rsplit('/').next().expect("id").to_string()
}

/// An attribute on a target given by ARN.
fn on(target: &str, name: &str, value: Option<&str>) -> Attribute {
    Attribute::builder()
        .name(name)
        .set_value(value.map(String::from))
        .target_id(target)
        .build()
        .expect("attribute")
}

/// Every attribute ListAttributes returns for the filters, walking the pages `page_size` at a time.
async fn list_all(
    server: &TestServer,
    name: Option<&str>,
    value: Option<&str>,
    page_size: Option<i32>,
) -> Vec<(String, Option<String>, String)> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = server
            .client
            .list_attributes()
            .cluster("prod")
            .target_type(TargetType::ContainerInstance)
            .set_attribute_name(name.map(String::from))
            .set_attribute_value(value.map(String::from))
            .set_max_results(page_size)
            .set_next_token(token)
            .send()
            .await
            .expect("list attributes");
        if let Some(size) = page_size {
            assert!(page.attributes().len() <= size as usize);
        }
        for attribute in page.attributes() {
            assert_eq!(attribute.target_type(), Some(&TargetType::ContainerInstance));
            all.push((
                attribute.name().to_string(),
                attribute.value().map(String::from),
                attribute.target_id().unwrap_or_default().to_string(),
            ));
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            return all;
        }
        assert!(!page.attributes().is_empty(), "a page that promises more is never empty");
    }
}

#[tokio::test]
async fn put_list_and_delete_attributes() {
    let server = common::start().await;
    let instances = setup(&server, "prod", 2).await;
    let (a, b) = (arn(&instances[0]), arn(&instances[1]));
    let put = server
        .client
        .put_attributes()
        .cluster("prod")
        .attributes(on(&a, "stack", Some("prod")))
        .attributes(on(&a, "gpu-ready", None))
        .attributes(
            Attribute::builder()
                .name("stack")
                .value("dev")
                .target_type(TargetType::ContainerInstance)
                .target_id(id(&instances[1]))
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("put");
    assert_eq!(put.attributes().len(), 3);
    assert!(put.attributes().iter().all(|x| x.target_type() == Some(&TargetType::ContainerInstance)));

    let stacks = list_all(&server, Some("stack"), None, None).await;
    assert_eq!(
        stacks,
        [
            ("stack".to_string(), Some("prod".to_string()), a.clone()),
            ("stack".to_string(), Some("dev".to_string()), b.clone())
        ]
    );
    let prod = list_all(&server, Some("stack"), Some("prod"), None).await;
    assert_eq!(prod, [("stack".to_string(), Some("prod".to_string()), a.clone())]);
    let everything = list_all(&server, None, None, None).await;
    assert!(everything.contains(&("ecs.os-type".to_string(), Some("linux".to_string()), b.clone())));
    assert!(everything.contains(&("gpu-ready".to_string(), None, a.clone())));

    let described = server
        .client
        .describe_container_instances()
        .cluster("prod")
        .container_instances(&a)
        .send()
        .await
        .expect("describe");
    let shown = &described.container_instances()[0];
    assert!(shown.attributes().iter().any(|x| x.name() == "stack" && x.value() == Some("prod")));
    assert_eq!(shown.version(), instances[0].version() + 1, "one call, one change of the instance");

    server
        .client
        .put_attributes()
        .cluster("prod")
        .attributes(on(&a, "stack", Some("canary")))
        .send()
        .await
        .expect("replace");
    assert_eq!(list_all(&server, Some("stack"), Some("canary"), None).await.len(), 1);
    assert!(list_all(&server, Some("stack"), Some("prod"), None).await.is_empty(), "the value was replaced");

    let deleted = server
        .client
        .delete_attributes()
        .cluster("prod")
        .attributes(on(&a, "stack", None))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.attributes()[0].name(), "stack");
    assert_eq!(
        list_all(&server, Some("stack"), None, None).await,
        [("stack".to_string(), Some("dev".to_string()), b.clone())]
    );

    let revision = server.revision().await;
    server
        .client
        .delete_attributes()
        .cluster("prod")
        .attributes(on(&a, "stack", None))
        .send()
        .await
        .expect("delete again");
    assert_eq!(server.revision().await, revision, "nothing left to delete, nothing written");

    server
        .client
        .deregister_container_instance()
        .cluster("prod")
        .container_instance(&b)
        .send()
        .await
        .expect("deregister");
    assert!(
        list_all(&server, Some("stack"), None, None).await.is_empty(),
        "a deregistered instance lists nothing"
    );
}

#[tokio::test]
async fn pages_walk_every_attribute_once() {
    let server = common::start().await;
    let instances = setup(&server, "prod", 3).await;
    for instance in &instances {
        let mut put = server.client.put_attributes().cluster("prod");
        for i in 0..4 {
            put = put.attributes(on(&arn(instance), &format!("label{i}"), Some("on")));
        }
        put.send().await.expect("put");
    }
    let whole = list_all(&server, None, None, None).await;
    assert_eq!(whole.len(), 3 * 5, "four labels and ecs.os-type on each instance");
    for size in [1, 2, 3, 5, 7, 15] {
        assert_eq!(list_all(&server, None, None, Some(size)).await, whole, "pages of {size}");
    }
    assert_eq!(list_all(&server, Some("label2"), Some("on"), Some(2)).await.len(), 3);
    let bogus = server
        .client
        .list_attributes()
        .cluster("prod")
        .target_type(TargetType::ContainerInstance)
        .next_token("bogus")
        .send();
    assert_refused!(server, "InvalidParameterException", bogus);
}

#[tokio::test]
async fn bad_attribute_calls_are_refused_and_write_nothing() {
    let server = common::start().await;
    let instances = setup(&server, "prod", 2).await;
    let (a, b) = (arn(&instances[0]), arn(&instances[1]));
    let put = |attributes: Vec<Attribute>| {
        server.client.put_attributes().cluster("prod").set_attributes(Some(attributes))
    };
    let delete = |attributes: Vec<Attribute>| {
        server.client.delete_attributes().cluster("prod").set_attributes(Some(attributes))
    };

    let untargeted = Attribute::builder().name("stack").value("prod").build().expect("attribute");
    assert_refused!(server, "InvalidParameterException", put(vec![untargeted.clone()]).send());
    assert_refused!(server, "InvalidParameterException", delete(vec![untargeted]).send());
    let short_untyped =
        Attribute::builder().name("stack").target_id(id(&instances[0])).build().expect("attribute");
    assert_refused!(server, "InvalidParameterException", put(vec![short_untyped]).send());
    let wrong_type = Attribute::builder()
        .name("stack")
        .target_type(TargetType::from("task"))
        .target_id(&a)
        .build()
        .expect("attribute");
    assert_refused!(server, "InvalidParameterException", put(vec![wrong_type]).send());
    assert_refused!(server, "InvalidParameterException", put(vec![on(&a, "has space", None)]).send());
    assert_refused!(server, "InvalidParameterException", put(vec![on(&a, &"n".repeat(129), None)]).send());
    assert_refused!(server, "InvalidParameterException", put(vec![on(&a, "stack", Some(" prod"))]).send());
    assert_refused!(
        server,
        "InvalidParameterException",
        put(vec![on(&a, "stack", Some("semi;colon"))]).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        put(vec![on(&a, "ecs.os-type", Some("windows"))]).send()
    );
    assert_refused!(server, "InvalidParameterException", delete(vec![on(&a, "ecs.os-type", None)]).send());
    assert_refused!(server, "InvalidParameterException", put(Vec::new()).send());
    let eleven: Vec<_> = (0..11).map(|i| on(&a, &format!("c{i}"), None)).collect();
    assert_refused!(server, "InvalidParameterException", put(eleven).send());
    assert_refused!(
        server,
        "InvalidParameterException",
        put(vec![on("arn:aws:ecs:us-east-1:000000000000:task/prod/x", "s", None)]).send()
    );

    // Ten custom attributes fit on an instance; the eleventh does not, whichever call brings it.
    let ten: Vec<_> = (0..10).map(|i| on(&a, &format!("c{i}"), Some("v"))).collect();
    put(ten).send().await.expect("ten custom attributes");
    assert_refused!(server, "AttributeLimitExceededException", put(vec![on(&a, "one-more", None)]).send());
    put(vec![on(&a, "c3", Some("replaced"))]).send().await.expect("replacing one is not adding one");

    let missing =
        "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/0123456789abcdef0123456789abcdef";
    assert_refused!(server, "TargetNotFoundException", put(vec![on(missing, "s", None)]).send());
    assert_refused!(server, "TargetNotFoundException", delete(vec![on(missing, "s", None)]).send());
    let elsewhere =
        "arn:aws:ecs:us-east-1:000000000000:container-instance/other/0123456789abcdef0123456789abcdef";
    assert_refused!(server, "TargetNotFoundException", put(vec![on(elsewhere, "s", None)]).send());
    // All or nothing: the good target is not written either.
    assert_refused!(
        server,
        "TargetNotFoundException",
        put(vec![on(&b, "s", None), on(missing, "s", None)]).send()
    );
    server
        .client
        .deregister_container_instance()
        .cluster("prod")
        .container_instance(&b)
        .send()
        .await
        .expect("deregister");
    assert_refused!(server, "TargetNotFoundException", put(vec![on(&b, "s", None)]).send());
    assert_refused!(server, "ClusterNotFoundException", put(vec![on(&a, "s", None)]).cluster("nope").send());

    let list = || server.client.list_attributes().cluster("prod");
    assert_refused!(server, "InvalidParameterException", list().send());
    assert_refused!(server, "InvalidParameterException", list().target_type(TargetType::from("task")).send());
    assert_refused!(
        server,
        "InvalidParameterException",
        list().target_type(TargetType::ContainerInstance).attribute_value("prod").send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        list().target_type(TargetType::ContainerInstance).max_results(0).send()
    );
    assert_refused!(
        server,
        "ClusterNotFoundException",
        list().cluster("nope").target_type(TargetType::ContainerInstance).send()
    );
}
