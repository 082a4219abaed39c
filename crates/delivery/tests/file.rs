//! The file channel writing into a real temporary folder.

use homeward_delivery::{Channel, FileChannel, Outgoing};

fn message(delivery_id: &str, body: &str) -> Outgoing {
    Outgoing {
        delivery_id: delivery_id.into(),
        to: "вул. Хрещатик, 1, кв. 5, Київ, 01001".into(),
        messenger: String::new(),
        subject: "Ваше звернення HW-2025-0412 отримано".into(),
        body: body.into(),
        language: "uk".into(),
    }
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_delivery_becomes_one_file_with_its_headers_and_body_in_a_folder_created_for_it() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("outbox").join("letters");
    let channel = FileChannel::new(&dir);
    let sent = channel
        .send(&message(
            "d-0412-1",
            "Добрий день!\n\nМи отримали ваше звернення.",
        ))
        .await
        .unwrap();

    assert_eq!(sent.provider_message_id, "d-0412-1.txt");
    assert_eq!(names_in(&dir), vec!["d-0412-1.txt".to_owned()]);
    let content = std::fs::read_to_string(dir.join("d-0412-1.txt")).unwrap();
    assert_eq!(
        content,
        "To: вул. Хрещатик, 1, кв. 5, Київ, 01001\n\
         Subject: Ваше звернення HW-2025-0412 отримано\n\
         Language: uk\n\
         Delivery-Id: d-0412-1\n\
         \n\
         Добрий день!\n\nМи отримали ваше звернення.\n"
    );
}

#[tokio::test]
async fn sending_the_same_delivery_twice_leaves_exactly_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let channel = FileChannel::new(dir.path());
    let first = channel
        .send(&message("d-7", "first attempt"))
        .await
        .unwrap();
    let second = channel
        .send(&message("d-7", "second attempt"))
        .await
        .unwrap();

    assert_eq!(first, second);
    // No temporary files left behind either.
    assert_eq!(names_in(dir.path()), vec!["d-7.txt".to_owned()]);
    let content = std::fs::read_to_string(dir.path().join("d-7.txt")).unwrap();
    assert!(content.ends_with("\nsecond attempt\n"), "{content}");
}

#[tokio::test]
async fn different_deliveries_get_different_files() {
    let dir = tempfile::tempdir().unwrap();
    let channel = FileChannel::new(dir.path());
    channel.send(&message("d-1", "one")).await.unwrap();
    channel.send(&message("d-2", "two")).await.unwrap();
    assert_eq!(
        names_in(dir.path()),
        vec!["d-1.txt".to_owned(), "d-2.txt".to_owned()]
    );
}

#[tokio::test]
async fn a_delivery_id_with_path_characters_cannot_leave_the_folder() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("outbox");
    let channel = FileChannel::new(&dir);
    let sent = channel
        .send(&message("../../escaped", "body"))
        .await
        .unwrap();

    assert_eq!(names_in(root.path()), vec!["outbox".to_owned()]);
    let names = names_in(&dir);
    assert_eq!(names, vec![sent.provider_message_id.clone()]);
    assert!(names[0].starts_with("______escaped-"), "{names:?}");
    assert_eq!(channel.path_for("../../escaped"), dir.join(&names[0]));
}

#[tokio::test]
async fn a_line_break_in_a_header_value_cannot_forge_another_header() {
    let dir = tempfile::tempdir().unwrap();
    let channel = FileChannel::new(dir.path());
    let mut forged = message("d-9", "body");
    forged.subject = "Inquiry\nDelivery-Id: someone-else".into();
    channel.send(&forged).await.unwrap();
    let content = std::fs::read_to_string(dir.path().join("d-9.txt")).unwrap();
    let header_lines: Vec<&str> = content.split("\n\n").next().unwrap().lines().collect();
    assert_eq!(header_lines.len(), 4, "{content}");
    assert!(header_lines.contains(&"Subject: Inquiry Delivery-Id: someone-else"));
    assert!(header_lines.contains(&"Delivery-Id: d-9"));
}

#[cfg(unix)]
#[tokio::test]
async fn delivery_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    FileChannel::new(dir.path())
        .send(&message("d-private", "body"))
        .await
        .unwrap();
    let mode = std::fs::metadata(dir.path().join("d-private.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}
