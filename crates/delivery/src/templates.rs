//! What an automated message to a family says, in Ukrainian, Russian or English.
//!
//! Two rules shape everything here and must never be loosened:
//! - News of capture or death is never rendered for electronic sending. A trained officer tells
//!   the family in person; `render` refuses `PersonHeld` and `Deceased`, and there is no text
//!   for them to fall back on.
//! - Automated messages never name the person asked about: the family is told about "the person
//!   you asked about", with the inquiry reference. `Facts` has no field for a name on purpose.
//!
//! Every message closes with a warning that the bureau never asks for money for information
//! (fraudsters target families of the missing) and with the bureau's signature.

use serde::Deserialize;
use time::Date;

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    InquiryReceived,
    StatusUpdate,
    Repatriated,
    Released,
    InquiryClosed,
    /// Grave news: told in person only, never rendered.
    PersonHeld,
    /// Grave news: told in person only, never rendered.
    Deceased,
}

impl MessageKind {
    pub const ALL: [MessageKind; 7] = [
        MessageKind::InquiryReceived,
        MessageKind::StatusUpdate,
        MessageKind::Repatriated,
        MessageKind::Released,
        MessageKind::InquiryClosed,
        MessageKind::PersonHeld,
        MessageKind::Deceased,
    ];

    /// Whether this news may only be told in person.
    pub fn is_grave(self) -> bool {
        matches!(self, MessageKind::PersonHeld | MessageKind::Deceased)
    }
}

/// The languages messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Uk,
    Ru,
    En,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Uk, Language::Ru, Language::En];

    /// Reads a language tag such as `uk`, `uk-UA`, `RU` or `en_GB`; anything else is English.
    pub fn from_tag(tag: &str) -> Language {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            // "ua" is the country, not the language, but people write it for Ukrainian.
            "uk" | "ukr" | "ua" => Language::Uk,
            "ru" | "rus" => Language::Ru,
            _ => Language::En,
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Language::Uk => "uk",
            Language::Ru => "ru",
            Language::En => "en",
        }
    }
}

/// What a message may say about an inquiry. There is deliberately no name here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The inquiry's reference, quoted in every message so the family can refer to it.
    pub inquiry_reference: String,
    /// How to reach the liaison office (phone, address, hours), as one line of text.
    pub office_contact: String,
    /// When it happened (received, repatriated, released, closed), when known.
    pub date: Option<Date>,
}

/// The signature that closes every message, per language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Signature {
    pub uk: String,
    pub ru: String,
    pub en: String,
}

impl Default for Signature {
    fn default() -> Self {
        Self {
            uk: "Національне інформаційне бюро".into(),
            ru: "Национальное информационное бюро".into(),
            en: "National Information Bureau".into(),
        }
    }
}

impl Signature {
    pub fn for_language(&self, language: Language) -> &str {
        match language {
            Language::Uk => &self.uk,
            Language::Ru => &self.ru,
            Language::En => &self.en,
        }
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    /// The language actually used, after falling back to English.
    pub language: Language,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{0:?} news is told in person by a trained officer and is never sent electronically")]
    InPersonOnly(MessageKind),
    #[error("the message needs the {0}")]
    MissingFact(&'static str),
}

/// The warning against fraud that closes every message.
pub fn money_warning(language: Language) -> &'static str {
    match language {
        Language::Uk => {
            "Зверніть увагу: ми ніколи не просимо грошей чи будь-якої іншої плати за інформацію. \
             Якщо хтось вимагає від вас заплатити за новини, це шахрайство: не платіть і повідомте \
             нам."
        }
        Language::Ru => {
            "Обратите внимание: мы никогда не просим денег или какой-либо другой оплаты за \
             информацию. Если кто-то требует от вас заплатить за новости, это мошенничество: не \
             платите и сообщите нам."
        }
        Language::En => {
            "Please note: we never ask for money or any other payment for information. If anyone \
             asks you to pay for news, it is fraud: do not pay, and tell us."
        }
    }
}

/// Renders messages with one signature.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    signature: Signature,
}

impl Templates {
    pub fn new(signature: Signature) -> Self {
        Self { signature }
    }

    /// The subject and body for `kind` in the language tagged `language` (English when it is
    /// not one we write). Grave news is refused.
    pub fn render(
        &self,
        kind: MessageKind,
        language: &str,
        facts: &Facts,
    ) -> Result<Rendered, RenderError> {
        if kind.is_grave() {
            return Err(RenderError::InPersonOnly(kind));
        }
        let reference = facts.inquiry_reference.trim();
        if reference.is_empty() {
            return Err(RenderError::MissingFact("inquiry reference"));
        }
        let contact = facts.office_contact.trim();
        if contact.is_empty() {
            return Err(RenderError::MissingFact("office contact"));
        }
        let language = Language::from_tag(language);
        let date = facts.date.map(|d| date_text(d, language));
        let Some(text) = text(kind, language, reference, contact, date.as_deref()) else {
            return Err(RenderError::InPersonOnly(kind));
        };

        let (greeting, closing) = match language {
            Language::Uk => ("Добрий день!", "З повагою,"),
            Language::Ru => ("Здравствуйте!", "С уважением,"),
            Language::En => ("Hello,", "Kind regards,"),
        };
        let mut body = String::new();
        body.push_str(greeting);
        for paragraph in text.paragraphs {
            body.push_str("\n\n");
            body.push_str(&paragraph);
        }
        body.push_str("\n\n");
        body.push_str(money_warning(language));
        body.push_str("\n\n");
        body.push_str(closing);
        body.push('\n');
        body.push_str(self.signature.for_language(language).trim());
        Ok(Rendered {
            subject: text.subject,
            body,
            language,
        })
    }
}

struct Text {
    subject: String,
    paragraphs: [String; 2],
}

const MONTHS_UK: [&str; 12] = [
    "січня",
    "лютого",
    "березня",
    "квітня",
    "травня",
    "червня",
    "липня",
    "серпня",
    "вересня",
    "жовтня",
    "листопада",
    "грудня",
];
const MONTHS_RU: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "12 травня 2025 року", "12 мая 2025 года", "12 May 2025".
fn date_text(date: Date, language: Language) -> String {
    let month = usize::from(u8::from(date.month()) - 1);
    let (day, year) = (date.day(), date.year());
    match language {
        Language::Uk => format!("{day} {} {year} року", MONTHS_UK[month]),
        Language::Ru => format!("{day} {} {year} года", MONTHS_RU[month]),
        Language::En => format!("{day} {} {year}", MONTHS_EN[month]),
    }
}

/// The words of each message. `None` for grave news: there is no text for it, so no path can
/// send it.
fn text(kind: MessageKind, language: Language, r: &str, c: &str, d: Option<&str>) -> Option<Text> {
    use Language::{En, Ru, Uk};
    use MessageKind::*;

    let (subject, first, second) = match (kind, language) {
        (PersonHeld | Deceased, _) => return None,

        (InquiryReceived, Uk) => (
            format!("Ваше звернення {r} отримано"),
            match d {
                Some(d) => format!(
                    "Ми отримали ваше звернення {d}. Його номер — {r}; будь ласка, зазначайте \
                     його щоразу, коли звертаєтеся до нас."
                ),
                None => format!(
                    "Ми отримали ваше звернення. Його номер — {r}; будь ласка, зазначайте його \
                     щоразу, коли звертаєтеся до нас."
                ),
            },
            format!(
                "Ми перевіряємо всю доступну нам інформацію про людину, про яку ви запитували, і \
                 напишемо вам, щойно з’являться новини. Якщо у вас є запитання, зв’яжіться з \
                 нами:\n{c}"
            ),
        ),
        (InquiryReceived, Ru) => (
            format!("Ваше обращение {r} получено"),
            match d {
                Some(d) => format!(
                    "Мы получили ваше обращение {d}. Его номер — {r}; пожалуйста, указывайте его \
                     каждый раз, когда обращаетесь к нам."
                ),
                None => format!(
                    "Мы получили ваше обращение. Его номер — {r}; пожалуйста, указывайте его \
                     каждый раз, когда обращаетесь к нам."
                ),
            },
            format!(
                "Мы проверяем всю доступную нам информацию о человеке, о котором вы спрашивали, и \
                 напишем вам, как только появятся новости. Если у вас есть вопросы, свяжитесь с \
                 нами:\n{c}"
            ),
        ),
        (InquiryReceived, En) => (
            format!("We have received your inquiry {r}"),
            match d {
                Some(d) => format!(
                    "We received your inquiry on {d}. Its reference is {r}; please quote it \
                     whenever you contact us."
                ),
                None => format!(
                    "We have received your inquiry. Its reference is {r}; please quote it \
                     whenever you contact us."
                ),
            },
            format!(
                "We are checking all the information available to us about the person you asked \
                 about, and we will write to you as soon as there is news. If you have any \
                 questions, please contact us:\n{c}"
            ),
        ),

        (StatusUpdate, Uk) => (
            format!("Нова інформація за вашим зверненням {r}"),
            match d {
                Some(d) => format!(
                    "Станом на {d} є нова інформація про людину, про яку ви запитували \
                     (звернення {r})."
                ),
                None => format!(
                    "З’явилася нова інформація про людину, про яку ви запитували (звернення {r})."
                ),
            },
            format!(
                "Щоб захистити вас і цю людину, ми не надсилаємо подробиць електронною поштою чи \
                 в повідомленнях. Будь ласка, зв’яжіться з нами, щоб дізнатися більше:\n{c}"
            ),
        ),
        (StatusUpdate, Ru) => (
            format!("Новая информация по вашему обращению {r}"),
            match d {
                Some(d) => format!(
                    "По состоянию на {d} есть новая информация о человеке, о котором вы \
                     спрашивали (обращение {r})."
                ),
                None => format!(
                    "Появилась новая информация о человеке, о котором вы спрашивали (обращение \
                     {r})."
                ),
            },
            format!(
                "Чтобы защитить вас и этого человека, мы не отправляем подробности по электронной \
                 почте или в сообщениях. Пожалуйста, свяжитесь с нами, чтобы узнать больше:\n{c}"
            ),
        ),
        (StatusUpdate, En) => (
            format!("New information on your inquiry {r}"),
            match d {
                Some(d) => format!(
                    "As of {d}, there is new information about the person you asked about \
                     (inquiry {r})."
                ),
                None => format!(
                    "There is new information about the person you asked about (inquiry {r})."
                ),
            },
            format!(
                "To protect you and the person concerned, we do not send details by email or \
                 text message. Please contact us to learn more:\n{c}"
            ),
        ),

        (Repatriated, Uk) => (
            format!("Добрі новини за вашим зверненням {r}"),
            format!(
                "Раді повідомити: за нашими даними, людина, про яку ви запитували (звернення \
                 {r}), повернулася на батьківщину{}.",
                after(d)
            ),
            format!(
                "Щоб дізнатися подробиці, зокрема як зв’язатися з цією людиною, будь ласка, \
                 зверніться до нас:\n{c}"
            ),
        ),
        (Repatriated, Ru) => (
            format!("Хорошие новости по вашему обращению {r}"),
            format!(
                "Рады сообщить: по нашим данным, человек, о котором вы спрашивали (обращение \
                 {r}), вернулся на родину{}.",
                after(d)
            ),
            format!(
                "Чтобы узнать подробности, в том числе как связаться с этим человеком, \
                 пожалуйста, обратитесь к нам:\n{c}"
            ),
        ),
        (Repatriated, En) => (
            format!("Good news on your inquiry {r}"),
            match d {
                Some(d) => format!(
                    "We are glad to tell you that, according to our records, the person you \
                     asked about (inquiry {r}) returned to their home country on {d}."
                ),
                None => format!(
                    "We are glad to tell you that, according to our records, the person you \
                     asked about (inquiry {r}) has returned to their home country."
                ),
            },
            format!(
                "For details, including how to get in touch with them, please contact us:\n{c}"
            ),
        ),

        (Released, Uk) => (
            format!("Новини за вашим зверненням {r}"),
            format!(
                "За нашими даними, людину, про яку ви запитували (звернення {r}), звільнено{}.",
                after(d)
            ),
            format!(
                "Щоб дізнатися подробиці, зокрема як зв’язатися з цією людиною, будь ласка, \
                 зверніться до нас:\n{c}"
            ),
        ),
        (Released, Ru) => (
            format!("Новости по вашему обращению {r}"),
            format!(
                "По нашим данным, человек, о котором вы спрашивали (обращение {r}), был \
                 освобождён{}.",
                after(d)
            ),
            format!(
                "Чтобы узнать подробности, в том числе как связаться с этим человеком, \
                 пожалуйста, обратитесь к нам:\n{c}"
            ),
        ),
        (Released, En) => (
            format!("News on your inquiry {r}"),
            match d {
                Some(d) => format!(
                    "According to our records, the person you asked about (inquiry {r}) was \
                     released on {d}."
                ),
                None => format!(
                    "According to our records, the person you asked about (inquiry {r}) has \
                     been released."
                ),
            },
            format!(
                "For details, including how to get in touch with them, please contact us:\n{c}"
            ),
        ),

        (InquiryClosed, Uk) => (
            format!("Ваше звернення {r} закрито"),
            format!("Ваше звернення {r} закрито{}.", after(d)),
            format!(
                "Якщо у вас є нова інформація чи запитання або ви вважаєте, що звернення закрили \
                 помилково, будь ласка, зв’яжіться з нами:\n{c}"
            ),
        ),
        (InquiryClosed, Ru) => (
            format!("Ваше обращение {r} закрыто"),
            format!("Ваше обращение {r} закрыто{}.", after(d)),
            format!(
                "Если у вас есть новая информация или вопросы либо вы считаете, что обращение \
                 закрыли по ошибке, пожалуйста, свяжитесь с нами:\n{c}"
            ),
        ),
        (InquiryClosed, En) => (
            format!("Your inquiry {r} has been closed"),
            match d {
                Some(d) => format!("Your inquiry {r} was closed on {d}."),
                None => format!("Your inquiry {r} has been closed."),
            },
            format!(
                "If you have new information or questions, or believe the inquiry was closed by \
                 mistake, please contact us:\n{c}"
            ),
        ),
    };
    Some(Text {
        subject,
        paragraphs: [first, second],
    })
}

/// " 12 травня 2025 року" after a verb in Ukrainian and Russian, where the date needs no
/// preposition; nothing when there is no date.
fn after(date: Option<&str>) -> String {
    date.map(|d| format!(" {d}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const ELECTRONIC: [MessageKind; 5] = [
        MessageKind::InquiryReceived,
        MessageKind::StatusUpdate,
        MessageKind::Repatriated,
        MessageKind::Released,
        MessageKind::InquiryClosed,
    ];

    fn facts() -> Facts {
        Facts {
            inquiry_reference: "HW-2025-0412".into(),
            office_contact: "Family liaison office, +380 44 000 00 00, Mon-Fri 9:00-18:00".into(),
            date: Some(date!(2025 - 05 - 23)),
        }
    }

    #[test]
    fn every_kind_renders_in_every_language_with_reference_contact_warning_and_signature() {
        let templates = Templates::default();
        for kind in ELECTRONIC {
            for language in Language::ALL {
                for date in [Some(date!(2025 - 05 - 23)), None] {
                    let facts = Facts { date, ..facts() };
                    let message = templates.render(kind, language.tag(), &facts).unwrap();
                    let context = format!("{kind:?} {language:?} {date:?}:\n{}", message.body);
                    assert_eq!(message.language, language);
                    assert!(message.subject.contains("HW-2025-0412"), "{context}");
                    assert!(message.body.contains("HW-2025-0412"), "{context}");
                    assert!(message.body.contains(&facts.office_contact), "{context}");
                    assert!(message.body.contains(money_warning(language)), "{context}");
                    let signature = Signature::default();
                    assert!(
                        message.body.ends_with(signature.for_language(language)),
                        "{context}"
                    );
                    assert!(!message.body.contains(".."), "{context}");
                }
            }
        }
    }

    #[test]
    fn ukrainian_and_russian_messages_are_wholly_in_their_own_language() {
        let templates = Templates::default();
        for kind in ELECTRONIC {
            let uk = templates.render(kind, "uk", &facts()).unwrap();
            let ru = templates.render(kind, "ru", &facts()).unwrap();
            for text in [&uk.subject, &uk.body] {
                // Letters only Russian has.
                assert!(!text.contains(['ы', 'э', 'ъ', 'ё']), "{kind:?}: {text}");
            }
            for text in [&ru.subject, &ru.body] {
                // Letters only Ukrainian has.
                assert!(!text.contains(['і', 'ї', 'є', 'ґ']), "{kind:?}: {text}");
            }
            for message in [&uk, &ru] {
                assert!(
                    !message.body.contains("please"),
                    "{kind:?}: {}",
                    message.body
                );
                assert!(!message.body.contains(money_warning(Language::En)));
            }
            assert!(uk.body.contains("грошей"), "{}", uk.body);
            assert!(ru.body.contains("денег"), "{}", ru.body);
        }
    }

    #[test]
    fn grave_news_is_never_rendered_for_electronic_sending() {
        let templates = Templates::default();
        for kind in [MessageKind::PersonHeld, MessageKind::Deceased] {
            assert!(kind.is_grave());
            for language in ["uk", "ru", "en", "de"] {
                assert_eq!(
                    templates.render(kind, language, &facts()),
                    Err(RenderError::InPersonOnly(kind))
                );
            }
            // Not even the text table has words for it.
            for language in Language::ALL {
                assert!(text(kind, language, "r", "c", None).is_none());
            }
        }
        let grave: Vec<_> = MessageKind::ALL
            .into_iter()
            .filter(|k| k.is_grave())
            .collect();
        assert_eq!(grave, vec![MessageKind::PersonHeld, MessageKind::Deceased]);
    }

    #[test]
    fn an_unknown_language_falls_back_to_english() {
        let templates = Templates::default();
        let english = templates
            .render(MessageKind::StatusUpdate, "en", &facts())
            .unwrap();
        for tag in ["de", "pl-PL", "", "xx"] {
            let message = templates
                .render(MessageKind::StatusUpdate, tag, &facts())
                .unwrap();
            assert_eq!(message, english, "{tag:?}");
            assert_eq!(message.language, Language::En);
        }
        assert!(english.body.contains(money_warning(Language::En)));
    }

    #[test]
    fn regional_and_upper_case_language_tags_are_understood() {
        assert_eq!(Language::from_tag("uk-UA"), Language::Uk);
        assert_eq!(Language::from_tag("UK"), Language::Uk);
        assert_eq!(Language::from_tag("ua"), Language::Uk);
        assert_eq!(Language::from_tag("ru_RU"), Language::Ru);
        assert_eq!(Language::from_tag(" RU "), Language::Ru);
        assert_eq!(Language::from_tag("en-GB"), Language::En);
    }

    #[test]
    fn the_date_is_written_in_the_message_language() {
        let templates = Templates::default();
        let kind = MessageKind::Repatriated;
        let body = |tag| templates.render(kind, tag, &facts()).unwrap().body;
        assert!(body("uk").contains("повернулася на батьківщину 23 травня 2025 року."));
        assert!(body("ru").contains("вернулся на родину 23 мая 2025 года."));
        assert!(body("en").contains("returned to their home country on 23 May 2025."));
        assert_eq!(
            date_text(date!(2024 - 01 - 01), Language::Uk),
            "1 січня 2024 року"
        );
        assert_eq!(
            date_text(date!(2024 - 12 - 31), Language::Ru),
            "31 декабря 2024 года"
        );
    }

    #[test]
    fn a_configured_signature_ends_every_message() {
        let templates = Templates::new(Signature {
            uk: "Національне інформаційне бюро, Київ".into(),
            ru: "Национальное информационное бюро, Киев".into(),
            en: "National Information Bureau, Kyiv".into(),
        });
        for (tag, signature) in [
            ("uk", "Національне інформаційне бюро, Київ"),
            ("ru", "Национальное информационное бюро, Киев"),
            ("en", "National Information Bureau, Kyiv"),
        ] {
            let body = templates
                .render(MessageKind::InquiryClosed, tag, &facts())
                .unwrap()
                .body;
            assert!(body.ends_with(signature), "{body}");
        }
    }

    #[test]
    fn a_message_without_a_reference_or_a_contact_is_refused() {
        let templates = Templates::default();
        let no_reference = Facts {
            inquiry_reference: "  ".into(),
            ..facts()
        };
        assert_eq!(
            templates.render(MessageKind::StatusUpdate, "en", &no_reference),
            Err(RenderError::MissingFact("inquiry reference"))
        );
        let no_contact = Facts {
            office_contact: String::new(),
            ..facts()
        };
        assert_eq!(
            templates.render(MessageKind::StatusUpdate, "en", &no_contact),
            Err(RenderError::MissingFact("office contact"))
        );
    }

    #[test]
    fn each_kind_says_something_different() {
        let templates = Templates::default();
        for language in Language::ALL {
            let rendered: Vec<Rendered> = ELECTRONIC
                .iter()
                .map(|kind| templates.render(*kind, language.tag(), &facts()).unwrap())
                .collect();
            for (i, a) in rendered.iter().enumerate() {
                for b in &rendered[i + 1..] {
                    assert_ne!(a.subject, b.subject, "{language:?}");
                    assert_ne!(a.body, b.body, "{language:?}");
                }
            }
        }
    }

    #[test]
    fn messages_about_the_person_refer_to_them_only_as_the_person_asked_about() {
        let templates = Templates::default();
        for kind in [
            MessageKind::InquiryReceived,
            MessageKind::StatusUpdate,
            MessageKind::Repatriated,
            MessageKind::Released,
        ] {
            for (tag, phrase) in [
                ("uk", "про яку ви запитували"),
                ("ru", "о котором вы спрашивали"),
                ("en", "the person you asked about"),
            ] {
                let body = templates.render(kind, tag, &facts()).unwrap().body;
                assert!(body.contains(phrase), "{kind:?} {tag}: {body}");
            }
        }
    }
}
