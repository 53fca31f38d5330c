"""The fixed phrases of a draft in each language: those the assembly frames every draft
with (greeting, slots, asset, sign-off) and those the template writer writes from.

Placeholders are filled by our code only, with values we cleaned: {name}, {company},
{ours}, {topic}, {industry}.
"""

from __future__ import annotations

from sales_agent_pipeline.domain.workflow import Tone

# The assembly's frame, the same whoever wrote the paragraphs.
FRAME: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hi {name},",
        "greeting_anonymous": "Hello,",
        "sign_off": "Best,",
        "slots_intro": "Would one of these times work for a 30-minute call?",
        "slots_intro_matched": "Here are times that fit what you suggested, for a 30-minute call:",
        "slots_outro": "If none suits, just reply with a time that does.",
        "asset_intro": "Here is something you may find useful:",
        "ask_for_time": "When would suit you for a short call?",
        "subject_new": "{company} and {ours}: next steps",
        "subject_anonymous": "Your request to {ours}",
    },
    "de": {
        "greeting": "Hallo {name},",
        "greeting_anonymous": "Guten Tag,",
        "sign_off": "Viele Grüße",
        "slots_intro": "Passt Ihnen einer dieser Termine für ein 30-minütiges Gespräch?",
        "slots_intro_matched": "Passend zu Ihrem Vorschlag hätte ich diese Termine "
        "für ein 30-minütiges Gespräch:",
        "slots_outro": "Falls keiner passt, nennen Sie mir gern einen anderen Termin.",
        "asset_intro": "Das könnte für Sie interessant sein:",
        "ask_for_time": "Wann passt Ihnen ein kurzes Gespräch?",
        "subject_new": "{company} und {ours}: nächste Schritte",
        "subject_anonymous": "Ihre Anfrage an {ours}",
    },
    "fr": {
        "greeting": "Bonjour {name},",
        "greeting_anonymous": "Bonjour,",
        "sign_off": "Bien cordialement,",
        "slots_intro": "L'un de ces créneaux vous conviendrait-il pour un appel de 30 minutes ?",
        "slots_intro_matched": "Voici des créneaux qui correspondent à vos disponibilités, "
        "pour un appel de 30 minutes :",
        "slots_outro": "Si aucun ne convient, proposez-moi simplement un autre moment.",
        "asset_intro": "Voici un document qui devrait vous intéresser :",
        "ask_for_time": "Quand seriez-vous disponible pour un court appel ?",
        "subject_new": "{company} et {ours} : prochaines étapes",
        "subject_anonymous": "Votre demande à {ours}",
    },
    "es": {
        "greeting": "Hola {name}:",
        "greeting_anonymous": "Hola:",
        "sign_off": "Un saludo,",
        "slots_intro": "¿Le vendría bien alguno de estos horarios para una llamada de 30 minutos?",
        "slots_intro_matched": "Estos horarios encajan con lo que nos indicó, para una "
        "llamada de 30 minutos:",
        "slots_outro": "Si ninguno le viene bien, indíqueme otro momento.",
        "asset_intro": "Le comparto algo que puede serle útil:",
        "ask_for_time": "¿Cuándo le vendría bien una breve llamada?",
        "subject_new": "{company} y {ours}: próximos pasos",
        "subject_anonymous": "Su solicitud a {ours}",
    },
}

# The template writer's openers, by language and tone.
OPENERS: dict[str, dict[Tone, str]] = {
    "en": {
        Tone.FRIENDLY: "Great to hear from you, and thanks for reaching out to {ours}.",
        Tone.FORMAL: "Thank you for contacting {ours}.",
        Tone.DIRECT: "Thanks for getting in touch with {ours}.",
    },
    "de": {
        Tone.FRIENDLY: "Schön, von Ihnen zu hören, und danke für Ihre Anfrage an {ours}.",
        Tone.FORMAL: "Vielen Dank für Ihre Anfrage an {ours}.",
        Tone.DIRECT: "Danke für Ihre Nachricht an {ours}.",
    },
    "fr": {
        Tone.FRIENDLY: "Ravi d'avoir de vos nouvelles, et merci d'avoir contacté {ours}.",
        Tone.FORMAL: "Nous vous remercions d'avoir contacté {ours}.",
        Tone.DIRECT: "Merci pour votre message à {ours}.",
    },
    "es": {
        Tone.FRIENDLY: "Encantado de saber de usted, y gracias por contactar con {ours}.",
        Tone.FORMAL: "Gracias por ponerse en contacto con {ours}.",
        Tone.DIRECT: "Gracias por escribir a {ours}.",
    },
}

# The template writer's other sentences.
SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        "reply": "Thanks for getting back to me.",
        "topic": "You asked about {topic}, and I would be glad to walk you through it.",
        "details": "Thanks for the details you shared; I would be glad to go through them "
        "with you.",
        "returning": "It is good to hear from {company} again.",
        "proven": "We work with a number of teams in {industry} on exactly this.",
        "industry": "We help teams in {industry} with this every day.",
    },
    "de": {
        "reply": "Danke für Ihre Rückmeldung.",
        "topic": "Sie haben nach {topic} gefragt, und ich erkläre Ihnen gern die Details.",
        "details": "Danke für Ihre Angaben; ich gehe sie gern mit Ihnen durch.",
        "returning": "Schön, wieder von {company} zu hören.",
        "proven": "Wir arbeiten mit mehreren Teams aus der Branche {industry} genau daran.",
        "industry": "Wir unterstützen Teams aus der Branche {industry} täglich dabei.",
    },
    "fr": {
        "reply": "Merci pour votre retour.",
        "topic": "Vous nous avez interrogés sur {topic}, et je serai ravi de vous présenter "
        "les détails.",
        "details": "Merci pour les précisions que vous nous avez données ; je serai ravi "
        "de les passer en revue avec vous.",
        "returning": "C'est un plaisir d'avoir à nouveau des nouvelles de {company}.",
        "proven": "Nous travaillons avec plusieurs équipes du secteur {industry} sur ce sujet.",
        "industry": "Nous aidons chaque jour des équipes du secteur {industry} sur ce sujet.",
    },
    "es": {
        "reply": "Gracias por su respuesta.",
        "topic": "Nos preguntó por {topic}, y con gusto le explico los detalles.",
        "details": "Gracias por los detalles que nos envió; con gusto los revisamos juntos.",
        "returning": "Es un placer volver a saber de {company}.",
        "proven": "Trabajamos con varios equipos del sector {industry} precisamente en esto.",
        "industry": "Ayudamos a diario a equipos del sector {industry} con esto.",
    },
}


def frame(language: str) -> dict[str, str]:
    """The frame's phrases in the language (English when it has none)."""
    return FRAME.get(language, FRAME["en"])
