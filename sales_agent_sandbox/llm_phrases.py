"""What the sandbox's stand-in model says, in each supported language (en, de, fr, es).

Data only: `llm_writer` chooses and arranges; the topics are in `llm_lexicon`.
"""

from __future__ import annotations

# The sentences around the topic. Lists give the model two ways to say a thing; the prompt's
# hash picks one, so the same prompt always reads the same.
SENTENCES: dict[str, dict[str, list[str]]] = {
    "en": {
        "thanks_plain": [
            "Thanks for your interest in {sender}.",
            "Thank you for reaching out to {sender}.",
        ],
        "thanks_reply": ["Thanks for coming back to me on this."],
        "call_welcome": ["A call sounds good to me."],
        "mentioned": ["You mentioned {words}, so I will keep the focus there."],
        "focus": ["We can go through {words} in detail on a short call."],
        "generic_answer": [
            "I would be glad to show you how we could help your team.",
            "I would be happy to walk you through what we could do for your team.",
        ],
        "angle_returning": ["It is good to pick up our earlier conversation again."],
        "angle_peer": [
            "Teams in {industry} have had good results with this, and I can share a peer "
            "example that is close to your situation."
        ],
        "angle_peer_plain": [
            "Similar teams have had good results with this, and I can share an example that "
            "is close to your situation."
        ],
        "asset": ["I have added {title} below; it gives a good overview."],
        "slots_days": [
            "Would {days} work for a short call? The exact times are listed below.",
            "Could we speak on {days}? I have listed the exact times below.",
        ],
        "slots_plain": ["Would one of the times below work for a short call?"],
        "kept_prefs": ["I picked times that match what you suggested."],
        "share_asset": ["Have a look, and let me know what you think."],
        "ask_time": ["When would suit you for a short call this week or next?"],
        "subject_company": ["{Title} for {company}"],
        "subject_title": ["{Title}: next steps"],
        "subject_plain": ["Next steps with {sender}", "Following up from {sender}"],
        "or": [" or "],
        "or_days": [" or "],
        "day_morning": ["{day} morning"],
        "day_afternoon": ["{day} afternoon"],
        "quote": ["“{}”"],
    },
    "de": {
        "thanks_plain": [
            "Vielen Dank für Ihr Interesse an {sender}.",
            "Danke, dass Sie sich bei {sender} gemeldet haben.",
        ],
        "thanks_reply": ["Danke für Ihre Rückmeldung."],
        "call_welcome": ["Ein Gespräch passt mir sehr gut."],
        "mentioned": ["Sie sprechen {words} an, darauf gehe ich gern genauer ein."],
        "focus": ["Zu {words} gehe ich gern im Gespräch ins Detail."],
        "mentioned_bare": ["Zum Thema {words} helfe ich Ihnen gern weiter."],
        "generic_answer": [
            "Ich zeige Ihnen gern, wie wir Ihr Team unterstützen können.",
            "Gern stelle ich Ihnen vor, was wir für Ihr Team tun können.",
        ],
        "angle_returning": ["Schön, dass wir unser Gespräch wieder aufnehmen."],
        "angle_peer": [
            "Teams aus dem Bereich {industry} haben damit gute Erfahrungen gemacht, und ich "
            "kann Ihnen gern ein passendes Beispiel zeigen."
        ],
        "angle_peer_plain": [
            "Ähnliche Teams haben damit gute Erfahrungen gemacht, und ich kann Ihnen gern ein "
            "passendes Beispiel zeigen."
        ],
        "asset": ["Unten finden Sie {title}; das gibt einen guten Überblick."],
        "slots_days": [
            "Passt Ihnen {days} für ein kurzes Gespräch? Die genauen Zeiten stehen unten.",
            "Hätten Sie {days} Zeit für ein kurzes Gespräch? Die genauen Zeiten finden Sie unten.",
        ],
        "slots_plain": ["Passt Ihnen einer der Termine unten für ein kurzes Gespräch?"],
        "kept_prefs": ["Ich habe Termine gewählt, die zu Ihren Wünschen passen."],
        "share_asset": ["Schauen Sie gern hinein und sagen Sie mir, was Sie davon halten."],
        "ask_time": ["Wann passt es Ihnen diese oder nächste Woche für ein kurzes Gespräch?"],
        "subject_company": ["{Title} für {company}"],
        "subject_title": ["{Title}: nächste Schritte"],
        "subject_plain": ["Nächste Schritte mit {sender}", "Ihre Anfrage bei {sender}"],
        "or": [" oder "],
        "or_days": [" oder "],
        "day_morning": ["{day} Vormittag"],
        "day_afternoon": ["{day} Nachmittag"],
        "quote": ["„{}“"],
    },
    "fr": {
        "thanks_plain": [
            "Merci pour votre intérêt pour {sender}.",
            "Merci d'avoir contacté {sender}.",
        ],
        "thanks_reply": ["Merci pour votre retour."],
        "call_welcome": ["Un appel me convient très bien."],
        "mentioned": ["Vous évoquez {words}, je m'y attarderai volontiers."],
        "focus": ["Nous pourrons revenir en détail sur ces points : {words}."],
        "generic_answer": [
            "Je vous montrerai volontiers comment nous pouvons aider votre équipe.",
            "Je serais ravi de vous présenter ce que nous pouvons apporter à votre équipe.",
        ],
        "angle_returning": ["Je suis content de reprendre notre échange."],
        "angle_peer": [
            "Des équipes du secteur {industry} ont obtenu de bons résultats, et je peux vous "
            "partager un exemple proche de votre situation."
        ],
        "angle_peer_plain": [
            "Des équipes comparables ont obtenu de bons résultats, et je peux vous partager "
            "un exemple proche de votre situation."
        ],
        "asset": ["Vous trouverez {title} ci-dessous ; il donne une bonne vue d'ensemble."],
        "slots_days": [
            "Seriez-vous disponible {days} pour un court appel ? Les horaires exacts sont "
            "indiqués ci-dessous.",
            "Pourrions-nous échanger {days} ? Les horaires exacts figurent ci-dessous.",
        ],
        "slots_plain": ["L'un des créneaux ci-dessous vous conviendrait-il pour un court appel ?"],
        "kept_prefs": ["J'ai choisi des créneaux qui correspondent à vos préférences."],
        "share_asset": ["N'hésitez pas à y jeter un œil et à me dire ce que vous en pensez."],
        "ask_time": [
            "Quand seriez-vous disponible pour un court appel cette semaine ou la suivante ?"
        ],
        "subject_company": ["{Title} pour {company}"],
        "subject_title": ["{Title} : prochaines étapes"],
        "subject_plain": ["Prochaines étapes avec {sender}", "Suite à votre demande"],
        "or": [" ou "],
        "or_days": [" ou "],
        "day_morning": ["{day} matin"],
        "day_afternoon": ["{day} après-midi"],
        "quote": ["« {} »"],
    },
    "es": {
        "thanks_plain": [
            "Gracias por su interés en {sender}.",
            "Gracias por ponerse en contacto con {sender}.",
        ],
        "thanks_reply": ["Gracias por su respuesta."],
        "call_welcome": ["Una llamada me parece muy bien."],
        "mentioned": ["Menciona {words}, así que me centraré en ello."],
        "focus": ["Podemos repasar en detalle estos puntos: {words}."],
        "generic_answer": [
            "Con gusto le muestro cómo podemos ayudar a su equipo.",
            "Me encantaría explicarle lo que podemos hacer por su equipo.",
        ],
        "angle_returning": ["Me alegra retomar nuestra conversación."],
        "angle_peer": [
            "Equipos del sector {industry} han obtenido buenos resultados, y puedo compartir "
            "un ejemplo cercano a su situación."
        ],
        "angle_peer_plain": [
            "Equipos similares han obtenido buenos resultados, y puedo compartir un ejemplo "
            "cercano a su situación."
        ],
        "asset": ["Más abajo encontrará {title}, que ofrece una buena visión general."],
        "slots_days": [
            "¿Le vendría bien {days} para una breve llamada? Los horarios exactos están más abajo.",
            "¿Podríamos hablar {days}? Encontrará los horarios exactos más abajo.",
        ],
        "slots_plain": ["¿Le viene bien alguno de los horarios de abajo para una breve llamada?"],
        "kept_prefs": ["He elegido horarios que encajan con lo que me indicó."],
        "share_asset": ["Échele un vistazo y dígame qué le parece."],
        "ask_time": ["¿Cuándo le vendría bien una breve llamada esta semana o la próxima?"],
        "subject_company": ["{Title} para {company}"],
        "subject_title": ["{Title}: próximos pasos"],
        "subject_plain": ["Próximos pasos con {sender}", "Sobre su consulta a {sender}"],
        "or": [" o "],
        "or_days": [" o el "],
        "day_morning": ["el {day} por la mañana"],
        "day_afternoon": ["el {day} por la tarde"],
        "quote": ["«{}»"],
    },
}

# Weekday names a slot label may use (any supported language), by weekday number.
WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}

# What a lead's text may ask the model to do: never words worth echoing back.
SUSPECT_WORDS = frozenset(
    [
        # Insults: a model does not repeat them.
        "idiot",
        "idiots",
        "stupid",
        "moron",
        "morons",
        "insult",
        "insults",
        "connard",
        "arschloch",
        "idiota",
        "imbécil",
        "imbecil",
        # Orders and insults in the other three languages.
        "ignorez",
        "oubliez",
        "consigne",
        "consignes",
        "insultez",
        "ignoriere",
        "ignorieren",
        "vergiss",
        "vergessen",
        "anweisungen",
        "beleidige",
        "ignora",
        "olvida",
        "olvide",
        "instrucciones",
        "insulta",
        "insulte",
        "ignore",
        "previous",
        "instructions",
        "instruction",
        "prompt",
        "system",
        "recipient",
        "recipients",
        "reveal",
        "forward",
        "password",
        "override",
        "disregard",
        "pretend",
        "secret",
        "assistant",
        "model",
        "send",
        "link",
        "click",
        "change",
        "switch",
        "mode",
        "email",
        "emails",
        "address",
        "anweisungen",
        "ignoriere",
        "instructions",
        "ignorez",
        "instrucciones",
        "ignora",
    ]
)

# Words by which a lead asks for a call (any supported language).
MEETING_WORDS = frozenset(
    [
        "call",
        "meeting",
        "chat",
        "termin",
        "gespräch",
        "anruf",
        "appel",
        "réunion",
        "llamada",
        "reunión",
    ]
)

# A short generic email for a request without a brief.
GENERIC = {
    "subject": "Following up",
    "paragraphs": [
        "Thanks for getting in touch. I would be glad to learn more about what you are "
        "working on and where we could help.",
        "Would a short call in the coming days work for you?",
    ],
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that carry no topic: never echoed back as what the lead "mentioned". Per language,
# also how the writer guesses the language a message is written in.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "a an the and or but for with without to of in on at by from our your their my we "
        "you they i it is are was be been have has had do does did can could would should "
        "will may might this that these those there here what which who when where how why "
        "please thanks thank hello hi dear regards best works work working like need needs "
        "want looking interested know more about some any all just also very really much "
        "call calls meeting time times week next today tomorrow morning afternoon evening "
        "available copied colleague team company us me them not no yes get got make help "
        "solution solutions information question questions business product products service "
        "services offer"
    ),
    "de": _words(
        "der die das den dem des ein eine einen einem einer und oder aber für mit ohne zu "
        "von im in am an auf bei aus unser unsere ihr ihre wir sie ich es ist sind war "
        "haben hat hatte kann können würde sollte wird diese dieser dieses hier was wer wann "
        "wo wie warum bitte danke hallo gruß grüße viele mehr über sehr gern gerne auch nur "
        "termin anruf gespräch zeit woche nächste heute morgen vormittag nachmittag abend "
        "möchten möchte interessieren passt gut am besten uns mich nicht kein ja lösung "
        "lösungen anfrage frage fragen interesse unternehmen firma informationen"
    ),
    "fr": _words(
        "le la les un une des du de et ou mais pour avec sans à au aux en dans sur par notre "
        "nos votre vos leur nous vous ils je il elle est sont était être avoir a ont peut "
        "pourrait voudrais cette ce ces ici quoi qui quand où comment pourquoi merci bonjour "
        "cordialement plus très aussi appel réunion temps semaine prochaine aujourd demain "
        "matin après midi soir aimerions aimerais savoir conviendrait nous pas oui"
    ),
    "es": _words(
        "el la los las un una unos unas y o pero para con sin a al de del en sobre por "
        "nuestro nuestra su sus nosotros usted ellos yo es son era ser tener tiene pueden "
        "podría este esta estos aquí qué quién cuándo dónde cómo por qué gracias hola saludos "
        "más muy también llamada reunión tiempo semana próxima hoy mañana tarde noche "
        "gustaría saber va mejor nos me no sí"
    ),
}
