"""What the sandbox's stand-in model knows of a lead's topics, in each supported language.

Data only: the lexicon maps words a lead may write to a topic and to how the model names
that word back (with its article where the language needs one), so a draft reuses the
lead's own words without quoting their sentences.
"""

from __future__ import annotations

TOPICS = (
    "pricing",
    "demo",
    "integration",
    "security",
    "onboarding",
    "migration",
    "trial",
    "reporting",
    "automation",
    "support",
    "licences",
)

# word (lowercase) -> (topic, how the model writes it back). Per language.
LEXICON: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "price": ("pricing", "price"),
        "prices": ("pricing", "prices"),
        "pricing": ("pricing", "pricing"),
        "cost": ("pricing", "cost"),
        "costs": ("pricing", "costs"),
        "quote": ("pricing", "a quote"),
        "budget": ("pricing", "budget"),
        "demo": ("demo", "a demo"),
        "walkthrough": ("demo", "a walkthrough"),
        "integration": ("integration", "integration"),
        "integrations": ("integration", "integrations"),
        "integrate": ("integration", "integration"),
        "api": ("integration", "the API"),
        "crm": ("integration", "your CRM"),
        "security": ("security", "security"),
        "gdpr": ("security", "GDPR"),
        "compliance": ("security", "compliance"),
        "sso": ("security", "SSO"),
        "onboarding": ("onboarding", "onboarding"),
        "rollout": ("onboarding", "the rollout"),
        "implementation": ("onboarding", "implementation"),
        "training": ("onboarding", "training"),
        "migration": ("migration", "migration"),
        "migrate": ("migration", "migration"),
        "switching": ("migration", "switching over"),
        "trial": ("trial", "a trial"),
        "pilot": ("trial", "a pilot"),
        "reporting": ("reporting", "reporting"),
        "reports": ("reporting", "reports"),
        "dashboard": ("reporting", "dashboards"),
        "dashboards": ("reporting", "dashboards"),
        "analytics": ("reporting", "analytics"),
        "automation": ("automation", "automation"),
        "automate": ("automation", "automation"),
        "workflow": ("automation", "workflows"),
        "workflows": ("automation", "workflows"),
        "support": ("support", "support"),
        "licences": ("licences", "licences"),
        "licenses": ("licences", "licenses"),
        "seats": ("licences", "seats"),
        "users": ("licences", "users"),
    },
    "de": {
        "preis": ("pricing", "den Preis"),
        "preise": ("pricing", "die Preise"),
        "kosten": ("pricing", "die Kosten"),
        "angebot": ("pricing", "ein Angebot"),
        "budget": ("pricing", "das Budget"),
        "demo": ("demo", "eine Demo"),
        "vorführung": ("demo", "eine Vorführung"),
        "integration": ("integration", "die Integration"),
        "schnittstelle": ("integration", "die Schnittstelle"),
        "schnittstellen": ("integration", "die Schnittstellen"),
        "anbindung": ("integration", "die Anbindung"),
        "api": ("integration", "die API"),
        "crm": ("integration", "Ihr CRM"),
        "sicherheit": ("security", "die Sicherheit"),
        "datenschutz": ("security", "den Datenschutz"),
        "dsgvo": ("security", "die DSGVO"),
        "einführung": ("onboarding", "die Einführung"),
        "schulung": ("onboarding", "die Schulung"),
        "onboarding": ("onboarding", "das Onboarding"),
        "migration": ("migration", "die Migration"),
        "umstieg": ("migration", "den Umstieg"),
        "wechsel": ("migration", "den Wechsel"),
        "testphase": ("trial", "eine Testphase"),
        "pilotprojekt": ("trial", "ein Pilotprojekt"),
        "berichte": ("reporting", "die Berichte"),
        "auswertungen": ("reporting", "die Auswertungen"),
        "dashboard": ("reporting", "das Dashboard"),
        "automatisierung": ("automation", "die Automatisierung"),
        "support": ("support", "den Support"),
        "lizenzen": ("licences", "die Lizenzen"),
        "nutzer": ("licences", "die Nutzerzahl"),
    },
    "fr": {
        "prix": ("pricing", "les prix"),
        "tarif": ("pricing", "le tarif"),
        "tarifs": ("pricing", "les tarifs"),
        "coût": ("pricing", "le coût"),
        "coûts": ("pricing", "les coûts"),
        "devis": ("pricing", "un devis"),
        "budget": ("pricing", "le budget"),
        "démo": ("demo", "une démo"),
        "démonstration": ("demo", "une démonstration"),
        "intégration": ("integration", "l'intégration"),
        "api": ("integration", "l'API"),
        "crm": ("integration", "votre CRM"),
        "sécurité": ("security", "la sécurité"),
        "rgpd": ("security", "le RGPD"),
        "conformité": ("security", "la conformité"),
        "déploiement": ("onboarding", "le déploiement"),
        "formation": ("onboarding", "la formation"),
        "migration": ("migration", "la migration"),
        "essai": ("trial", "un essai"),
        "pilote": ("trial", "un pilote"),
        "rapports": ("reporting", "les rapports"),
        "reporting": ("reporting", "le reporting"),
        "automatisation": ("automation", "l'automatisation"),
        "support": ("support", "le support"),
        "licences": ("licences", "les licences"),
        "utilisateurs": ("licences", "le nombre d'utilisateurs"),
    },
    "es": {
        "precio": ("pricing", "el precio"),
        "precios": ("pricing", "los precios"),
        "coste": ("pricing", "el coste"),
        "costo": ("pricing", "el costo"),
        "presupuesto": ("pricing", "el presupuesto"),
        "demo": ("demo", "una demo"),
        "demostración": ("demo", "una demostración"),
        "integración": ("integration", "la integración"),
        "api": ("integration", "la API"),
        "crm": ("integration", "su CRM"),
        "seguridad": ("security", "la seguridad"),
        "rgpd": ("security", "el RGPD"),
        "cumplimiento": ("security", "el cumplimiento normativo"),
        "implementación": ("onboarding", "la implementación"),
        "formación": ("onboarding", "la formación"),
        "migración": ("migration", "la migración"),
        "prueba": ("trial", "una prueba"),
        "piloto": ("trial", "un piloto"),
        "informes": ("reporting", "los informes"),
        "automatización": ("automation", "la automatización"),
        "soporte": ("support", "el soporte"),
        "licencias": ("licences", "las licencias"),
        "usuarios": ("licences", "el número de usuarios"),
    },
}

# How each topic is named when the lead's own word is in another language.
TOPIC_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "pricing": "pricing",
        "demo": "a demo",
        "integration": "integrations",
        "security": "security and compliance",
        "onboarding": "onboarding",
        "migration": "migrating",
        "trial": "a trial",
        "reporting": "reporting",
        "automation": "automation",
        "support": "support",
        "licences": "licensing",
    },
    "de": {
        "pricing": "die Preise",
        "demo": "eine Demo",
        "integration": "die Integration",
        "security": "Sicherheit und Datenschutz",
        "onboarding": "die Einführung",
        "migration": "den Umstieg",
        "trial": "eine Testphase",
        "reporting": "die Auswertungen",
        "automation": "die Automatisierung",
        "support": "den Support",
        "licences": "die Lizenzen",
    },
    "fr": {
        "pricing": "les tarifs",
        "demo": "une démonstration",
        "integration": "l'intégration",
        "security": "la sécurité",
        "onboarding": "le déploiement",
        "migration": "la migration",
        "trial": "un essai",
        "reporting": "le reporting",
        "automation": "l'automatisation",
        "support": "le support",
        "licences": "les licences",
    },
    "es": {
        "pricing": "los precios",
        "demo": "una demostración",
        "integration": "la integración",
        "security": "la seguridad",
        "onboarding": "la implementación",
        "migration": "la migración",
        "trial": "una prueba",
        "reporting": "los informes",
        "automation": "la automatización",
        "support": "el soporte",
        "licences": "las licencias",
    },
}

# One helpful sentence per topic: what a rep would actually say about it.
TOPIC_ANSWERS: dict[str, dict[str, str]] = {
    "en": {
        "pricing": "Pricing depends mainly on team size and the modules you need, so a short "
        "conversation is the quickest way to a concrete quote.",
        "demo": "A demo works best when it follows your own process, so I would tailor it to "
        "how your team works today.",
        "integration": "Most teams connect us to their existing tools in the first week, and "
        "I can show you exactly how that looks for your setup.",
        "security": "Security questions come up early with most teams; I am happy to share how "
        "we handle data protection and access control.",
        "onboarding": "Getting started is usually quick: we plan the rollout together and "
        "train your team along the way.",
        "migration": "Switching over is less work than most teams expect, and we take care of "
        "moving your existing data.",
        "trial": "A trial is a good way to see the fit with your own data before deciding.",
        "reporting": "Reporting is one of the areas teams use most, and the dashboards can be "
        "shaped around the figures you care about.",
        "automation": "Automating the repetitive steps is usually where teams save the most "
        "time in the first month.",
        "support": "You get a named contact and quick answers from people who know the product "
        "well.",
        "licences": "Licences scale with your team, so you only pay for the seats you use.",
    },
    "de": {
        "pricing": "Die Preise hängen vor allem von der Teamgröße und den benötigten Modulen "
        "ab, daher ist ein kurzes Gespräch der schnellste Weg zu einem konkreten Angebot.",
        "demo": "Eine Demo ist am hilfreichsten, wenn sie Ihrem eigenen Ablauf folgt, deshalb "
        "würde ich sie auf die Arbeitsweise Ihres Teams zuschneiden.",
        "integration": "Die meisten Teams binden uns in der ersten Woche an ihre bestehenden "
        "Werkzeuge an, und ich zeige Ihnen gern, wie das bei Ihnen aussehen würde.",
        "security": "Fragen zur Sicherheit kommen bei den meisten Teams früh auf; ich erkläre "
        "Ihnen gern, wie wir Datenschutz und Zugriffsrechte handhaben.",
        "onboarding": "Der Einstieg geht in der Regel schnell: Wir planen die Einführung "
        "gemeinsam und schulen Ihr Team dabei.",
        "migration": "Der Umstieg ist weniger Aufwand, als die meisten erwarten, und wir "
        "kümmern uns um die Übernahme Ihrer bestehenden Daten.",
        "trial": "Eine Testphase ist ein guter Weg, die Lösung mit Ihren eigenen Daten zu "
        "prüfen, bevor Sie sich entscheiden.",
        "reporting": "Die Auswertungen gehören zu den meistgenutzten Funktionen, und die "
        "Dashboards lassen sich auf Ihre wichtigsten Kennzahlen ausrichten.",
        "automation": "Mit der Automatisierung wiederkehrender Schritte sparen Teams im ersten "
        "Monat meist die meiste Zeit.",
        "support": "Sie bekommen einen festen Ansprechpartner und schnelle Antworten von "
        "Menschen, die das Produkt gut kennen.",
        "licences": "Die Lizenzen wachsen mit Ihrem Team, Sie zahlen also nur für die Plätze, "
        "die Sie wirklich nutzen.",
    },
    "fr": {
        "pricing": "Les tarifs dépendent surtout de la taille de l'équipe et des modules "
        "choisis, donc un court échange est le moyen le plus rapide d'obtenir un devis précis.",
        "demo": "Une démonstration est plus utile quand elle suit vos propres processus, je la "
        "préparerais donc autour de la façon dont votre équipe travaille aujourd'hui.",
        "integration": "La plupart des équipes nous connectent à leurs outils existants dès la "
        "première semaine, et je peux vous montrer ce que cela donnerait chez vous.",
        "security": "Les questions de sécurité arrivent tôt dans la plupart des projets ; je "
        "vous présenterai volontiers notre approche de la protection des données.",
        "onboarding": "La prise en main est généralement rapide : nous planifions le "
        "déploiement ensemble et formons votre équipe au fil de l'eau.",
        "migration": "La migration demande moins d'efforts que prévu, et nous nous occupons "
        "de reprendre vos données existantes.",
        "trial": "Un essai est une bonne façon de vérifier l'adéquation avec vos propres "
        "données avant de décider.",
        "reporting": "Le reporting fait partie des fonctions les plus utilisées, et les "
        "tableaux de bord s'adaptent aux indicateurs qui comptent pour vous.",
        "automation": "C'est en automatisant les tâches répétitives que les équipes gagnent le "
        "plus de temps dès le premier mois.",
        "support": "Vous avez un interlocuteur dédié et des réponses rapides de personnes qui "
        "connaissent bien le produit.",
        "licences": "Les licences évoluent avec votre équipe : vous ne payez que les accès "
        "réellement utilisés.",
    },
    "es": {
        "pricing": "Los precios dependen sobre todo del tamaño del equipo y de los módulos que "
        "necesite, así que una breve conversación es la forma más rápida de darle una "
        "propuesta concreta.",
        "demo": "Una demostración resulta más útil cuando sigue sus propios procesos, así que "
        "la adaptaría a la forma de trabajar de su equipo.",
        "integration": "La mayoría de los equipos nos conectan con sus herramientas actuales "
        "en la primera semana, y puedo enseñarle cómo quedaría en su caso.",
        "security": "Las preguntas de seguridad suelen surgir pronto; con gusto le explico "
        "cómo gestionamos la protección de datos y los accesos.",
        "onboarding": "La puesta en marcha suele ser rápida: planificamos la implementación "
        "juntos y formamos a su equipo por el camino.",
        "migration": "El cambio supone menos trabajo del que la mayoría espera, y nos "
        "encargamos de trasladar sus datos actuales.",
        "trial": "Una prueba es una buena manera de comprobar el encaje con sus propios datos "
        "antes de decidir.",
        "reporting": "Los informes son una de las funciones más usadas, y los paneles se "
        "adaptan a las cifras que más le importan.",
        "automation": "Automatizar los pasos repetitivos es donde los equipos ahorran más "
        "tiempo durante el primer mes.",
        "support": "Tendrá un contacto asignado y respuestas rápidas de personas que conocen "
        "bien el producto.",
        "licences": "Las licencias crecen con su equipo, de modo que solo paga por los puestos "
        "que utiliza.",
    },
}

# Bare topic names for a subject line.
TOPIC_TITLES: dict[str, tuple[str, ...]] = {
    "en": (
        "Pricing",
        "Demo",
        "Integrations",
        "Security",
        "Onboarding",
        "Migration",
        "Trial",
        "Reporting",
        "Automation",
        "Support",
        "Licensing",
    ),
    "de": (
        "Preise",
        "Demo",
        "Integration",
        "Sicherheit",
        "Einführung",
        "Umstieg",
        "Testphase",
        "Auswertungen",
        "Automatisierung",
        "Support",
        "Lizenzen",
    ),
    "fr": (
        "Tarifs",
        "Démonstration",
        "Intégration",
        "Sécurité",
        "Déploiement",
        "Migration",
        "Essai",
        "Reporting",
        "Automatisation",
        "Support",
        "Licences",
    ),
    "es": (
        "Precios",
        "Demostración",
        "Integración",
        "Seguridad",
        "Implementación",
        "Migración",
        "Prueba",
        "Informes",
        "Automatización",
        "Soporte",
        "Licencias",
    ),
}
