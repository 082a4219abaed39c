//! The requester's contacts on `inquiry create`: --email, --phone, --messenger and --postal, each
//! repeatable. The first contact typed, whatever its flag, is the preferred one, so the order of
//! the flags matters; clap's derive gathers each flag on its own and loses that order, so these
//! flags are declared and read here by hand, by their positions on the command line.
//!
//! Each value is checked by its parser in `args`; nothing here prints an address.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches, error::ErrorKind};
use homeward_proto::notification::v1 as pb;

use crate::args;

type Parser = fn(&str) -> Result<pb::ContactChannel, String>;

/// Each flag: its name, its value's name, its help and its parser.
const FLAGS: [(&str, &str, &str, Parser); 4] = [
    (
        "email",
        "ADDRESS",
        "An email address of the requester; repeatable. The first contact given, of any kind, is the preferred one",
        args::email,
    ),
    (
        "phone",
        "NUMBER",
        "A phone number for text messages, with its country code, such as +380671234567; repeatable",
        args::phone,
    ),
    (
        "messenger",
        "KIND:HANDLE",
        "A messenger contact, such as telegram:@kovalenko_o or signal:+380671234567 (signal, telegram, viber or whatsapp); repeatable",
        args::messenger,
    ),
    (
        "postal",
        "ADDRESS",
        "A postal address for letters, as it goes on the envelope; repeatable",
        args::postal,
    ),
];

const HEADING: &str = "Requester's contacts";

/// The contacts in the order they were typed, the first one preferred.
#[derive(Debug, Clone, Default)]
pub struct ContactArgs {
    pub contacts: Vec<pb::ContactChannel>,
}

impl Args for ContactArgs {
    fn augment_args(cmd: Command) -> Command {
        FLAGS
            .iter()
            .fold(cmd, |cmd, &(name, value_name, help, parser)| {
                cmd.arg(
                    Arg::new(name)
                        .long(name)
                        .value_name(value_name)
                        .help(help)
                        .help_heading(HEADING)
                        .action(ArgAction::Append)
                        .value_parser(parser),
                )
            })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ContactArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut typed: Vec<(usize, pb::ContactChannel)> = Vec::new();
        for (name, ..) in FLAGS {
            let values = matches
                .try_get_many::<pb::ContactChannel>(name)
                .map_err(|e| clap::Error::raw(ErrorKind::ArgumentConflict, e))?;
            let (Some(values), Some(indices)) = (values, matches.indices_of(name)) else {
                continue;
            };
            typed.extend(indices.zip(values.cloned()));
        }
        typed.sort_by_key(|(index, _)| *index);
        let mut contacts: Vec<pb::ContactChannel> =
            typed.into_iter().map(|(_, contact)| contact).collect();
        if let Some(first) = contacts.first_mut() {
            first.preferred = true;
        }
        Ok(Self { contacts })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Harness {
        #[command(flatten)]
        contacts: ContactArgs,
    }

    fn contacts(args: &[&str]) -> Result<Vec<pb::ContactChannel>, clap::Error> {
        let mut argv = vec!["inquiry"];
        argv.extend_from_slice(args);
        Harness::try_parse_from(argv).map(|h| h.contacts.contacts)
    }

    #[test]
    fn contacts_keep_the_order_they_were_typed_in_and_the_first_is_preferred() {
        let found = contacts(&[
            "--messenger",
            "Telegram:@olena_k",
            "--email",
            "olena@example.org",
            "--phone",
            "+380 67 123-45-67",
            "--postal",
            "вул. Хрещатик 1, Київ",
            "--email",
            "second@example.org",
        ])
        .unwrap();
        let channels: Vec<(i32, &str, &str)> = found
            .iter()
            .map(|c| (c.channel, c.address.as_str(), c.messenger.as_str()))
            .collect();
        assert_eq!(
            channels,
            [
                (pb::Channel::Messenger as i32, "@olena_k", "telegram"),
                (pb::Channel::Email as i32, "olena@example.org", ""),
                (pb::Channel::Sms as i32, "+380671234567", ""),
                (pb::Channel::File as i32, "вул. Хрещатик 1, Київ", ""),
                (pb::Channel::Email as i32, "second@example.org", ""),
            ]
        );
        let preferred: Vec<bool> = found.iter().map(|c| c.preferred).collect();
        assert_eq!(preferred, [true, false, false, false, false]);
        assert!(found.iter().all(|c| !c.verified));
    }

    #[test]
    fn no_contact_flags_give_no_contacts() {
        assert!(contacts(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_bad_contact_is_a_usage_error_that_names_the_flag_and_the_form() {
        for (argv, says) in [
            (["--email", "olena.example.org"], "no @"),
            (["--phone", "067 123 45 67"], "+380671234567"),
            (
                ["--messenger", "icq:12345"],
                "signal, telegram, viber, whatsapp",
            ),
            (["--postal", "  "], "cannot be empty"),
        ] {
            let err = contacts(&argv).expect_err(argv[1]);
            let text = err.to_string();
            assert!(text.contains(argv[0]), "{argv:?}: {text}");
            assert!(text.contains(says), "{argv:?}: {text}");
        }
    }
}
