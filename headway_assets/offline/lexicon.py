"""Hand-written cue lexicons: how people phrase requests, bugs, complaints, praise and questions.

Written from general knowledge of customer, forum and issue-tracker language (and of the
default GitHub issue templates), not from any evaluation data. Every pattern is applied to
*folded* text (see `text.fold`): lower case, no accents, no apostrophes, so "don't" is written
"dont", "wäre" is "ware" and "j'adore" is "jadore".

Each entry is `(regex, weight)`. Weights: 1 = weak hint, 2 = moderate, 3 = strong, 4 = an
explicit self-description ("feature request:", "[bug]"). Word boundaries are added by
`cues.compile_lexicon`, so patterns are written bare.
"""

from __future__ import annotations

from typing import Final, Literal

# The five kinds of feedback (tier-1 categories other than `other`), and the cue categories:
# those five plus "noise" (greetings, logistics, bots, helpers' replies).
FeedbackCategory = Literal["feature_request", "bug_report", "pain_point", "praise", "question"]
CueCategory = Literal["feature_request", "bug_report", "pain_point", "praise", "question", "noise"]
CUE_CATEGORIES: Final[tuple[CueCategory, ...]] = (
    "feature_request",
    "bug_report",
    "pain_point",
    "praise",
    "question",
    "noise",
)

CueSpec = tuple[str, float]

_ADD_VERBS = (
    r"(?:add|adding|include|support|implement|introduce|provide|offer|expose|enable|allow|build|create"
    r"|bring|make|give|consider|integrate|let)"
)
_NICE = (
    r"(?:nice|great|good|helpful|useful|awesome|cool|handy|amazing|fantastic|ideal|convenient|better"
    r"|wonderful|lovely|brilliant|beneficial|valuable|neat|sweet|excellent|super|perfect|a plus|a bonus)"
)
_APP_NOUN = (
    r"(?:app|application|tool|product|software|program|programme|platform|service|player|browser|team"
    r"|update|release|version|feature|features|work|job|ui|ux|design|support|experience|plugin|extension)"
)

FEATURE_REQUEST: Final[tuple[CueSpec, ...]] = (
    # Explicit labels.
    (r"feature (?:request|idea|suggestion|proposal|wish|ask)s?", 4.0),
    (r"(?:enhancement|improvement|change) (?:request|proposal|suggestion)", 3.5),
    (
        r"^\W{0,2}(?:feature|feat|enhancement|rfe|fr|proposal|suggestion|idea|request|wishlist)\s*(?:[:\])|]|-(?!>))",
        4.0,
    ),
    (r"(?:type|kind|label)\s*[:/]\s*(?:feature|enhancement)", 4.0),
    # "It would be nice if ..."
    (
        rf"(?:it|that|this|itd|thatd|would)\s*(?:would |will |might |could )?(?:really |also |so |very |be )*be {_NICE}"
        r"(?: (?:if|to|for|when|idea|feature|addition|option|improvement))?",
        3.0,
    ),
    (
        rf"would be (?:a )?(?:really |very |super |so )?{_NICE} (?:if|to|for|feature|addition|option|improvement)",
        3.0,
    ),
    (rf"{_NICE} to have", 3.0),
    (r"(?:nice|good|great)[- ]to[- ]have", 3.0),
    # Polite asks.
    (
        r"(?:please|pls|plz|kindly) (?:\w+ ){0,2}(?:add|include|support|implement|introduce|offer|expose|enable"
        r"|allow|build"
        r"|bring|consider|integrate|let (?:us|me|users|people|admins)|make (?:it|this|the|a)|give (?:us|users"
        r"|the option))",
        3.0,
    ),
    (
        rf"(?:could|can|would|will) (?:you|we|they|the team|the devs|the developers) (?:guys )?(?:please "
        rf"|possibly |maybe |perhaps |also |ever )?{_ADD_VERBS}",
        3.0,
    ),
    (r"(?:could|can) (?:we|i) (?:please )?(?:get|have) (?:a|an|the|some|support|option)", 3.0),
    (
        r"(?:is it|would it be|will it be|is there any way it could be) possible to (?:add|have|get|include"
        r"|support|implement|make|introduce|allow)",
        3.5,
    ),
    (
        r"any (?:plans?|chance|eta|timeline|news|update) (?:to|of|for|on) (?:add|adding|support|supporting"
        r"|implement|implementing|getting|having|bringing|introducing|allow|allowing)",
        3.5,
    ),
    (r"(?:are|is) (?:there|it) (?:any )?(?:plans?|planned|on the roadmap)", 3.0),
    (r"(?:on|to) (?:the|your) roadmap", 2.0),
    (
        r"will (?:there|it|you|this) (?:ever )?(?:be|support|get|have|add) (?:a |an |support|an option|the ability)",
        2.5,
    ),
    # Wishes and wants.
    (
        r"(?:i|we)(?:d| would)? (?:really |very much |so much |also |definitely )?(?:like|love|prefer|want) "
        r"(?:to (?:see|have|be able to|get|request|suggest|propose|ask for)|if|it if|a way|an option"
        r"|the ability|the option|support|for|some (?:way|kind|sort|option))",
        3.0,
    ),
    (
        r"(?:i|we)(?:d| would) (?:just |really |very much |so much |also |definitely |much )?(?:like|love"
        r"|appreciate|welcome|prefer)",
        1.5,
    ),
    (r"would (?:really |very much |greatly |definitely )?(?:love|appreciate|welcome|prefer)", 2.0),
    (
        r"(?:i|we) (?:really |so |also )?wish (?:there|it|i|you|we|they|the|this|that|for|[a-z]+ (?:had|would"
        r"|could|supported|was|were))",
        3.0,
    ),
    (
        r"(?:i|we) (?:really |also |badly |desperately )?(?:need|want) (?:a way|an option|the option"
        r"|the ability|some way|support for|to be able to|a setting|a button|a feature|more (?:control|options"
        r"|flexibility))",
        3.0,
    ),
    (r"(?:wish ?list|wishlist|feature ?wish|suggestion box)", 2.5),
    # Proposals.
    (
        r"(?:i|we|id|wed) (?:would )?(?:like to )?(?:suggest|propose|recommend) (?:adding|that|to|a|an|you"
        r"|making|having|the|some|supporting|allowing)",
        3.0,
    ),
    (r"(?:my|a|one|small|quick|minor|little) (?:suggestion|proposal|idea|request)", 2.5),
    (
        r"(?:how|what) about (?:adding|having|making|supporting|allowing|including|introducing|an option|a way"
        r"|a setting|a button|a toggle|support)",
        3.0,
    ),
    (
        r"(?:why not|maybe) (?:add|adding|make|making|have|having|support|supporting|allow|allowing|offer"
        r"|include|including|introduce|provide)",
        2.5,
    ),
    (r"suggest(?:ion|ions|ed|ing)?", 1.5),
    (r"propos(?:al|e|ed|ing)", 1.5),
    (r"request(?:ing|ed)?", 1.0),
    # Capability vocabulary.
    (
        r"(?:add|adding|added|introduce|introducing|implement|implementing|provide|providing|offer|offering"
        r"|expose|exposing)"
        r" (?:an? |the |some |more |native |built-?in |first-?class |proper |basic |full )?"
        r"(?:support|option|ability|setting|way|button|toggle|feature|flag|parameter|param|switch|shortcut|hotkey"
        r"|endpoint|api|hook|filter|field|column|integration|mode|preference|config|configuration|command)",
        3.0,
    ),
    (
        r"(?:add|adding|introduce|introducing) (?:a |an |the )?(?:new |\w+ )?(?:way|option|feature|setting|mode)",
        2.0,
    ),
    (
        r"(?:new|additional|extra|optional|configurable) (?:feature|option|setting|integration|endpoint"
        r"|parameter|mode|api|flag|argument|config|hotkey|shortcut)",
        2.0,
    ),
    (r"support (?:for|of) (?:the |a |an |more |other |multiple |custom |different )?\w+", 1.5),
    (r"(?:add|adding) (?:a |an |the )?\w+ (?:to|in|for|on) (?:the )?\w+", 1.5),
    (
        r"allow(?:s|ing)? (?:the )?(?:users?|us|me|people|admins?|customers?|developers?|someone|one|you|them) to",
        2.5,
    ),
    (
        r"(?:let|lets) (?:the )?(?:users?|us|me|people|admins?|customers?|developers?|you) (?:\w+ )?(?:choose"
        r"|pick|set|configure|customi[sz]e|change|disable|enable|turn off|hide|select|decide|define|specify|use"
        r"|add|export|import|edit|sort|filter|save|see|schedule)",
        2.5,
    ),
    (
        r"(?:an?|the|some) (?:option|ability|setting|way|possibility|toggle|checkbox|switch|preference) to",
        2.0,
    ),
    (
        r"(?:should|could|must) (?:also |really |ideally |optionally )?(?:support|allow|have an?|offer|provide"
        r"|include|let|expose|accept|be (?:configurable|optional|customi[sz]able|possible|able to|extended"
        r"|extensible))",
        2.0,
    ),
    (
        r"make (?:it|this|that|them) (?:possible|configurable|optional|customi[sz]able|easier|easy|simpler"
        r"|faster|more|less|clearer|work with)",
        2.5,
    ),
    (r"be able to", 1.5),
    (
        r"(?:i|we|you|users?) (?:cant|can not|cannot|are unable to|have no way to) (?:currently |yet )?(?:set"
        r"|choose|configure|customi[sz]e|change|disable|turn off|hide|select|sort|filter|export|import|schedule"
        r"|rename|reorder|group|bulk)",
        1.5,
    ),
    (
        r"(?:there is|theres|there are) (?:currently )?no (?:way|option|setting|button|support|ability|feature"
        r"|api|method|mechanism|toggle|possibility)",
        2.0,
    ),
    (r"(?:currently )?(?:not|isnt|is not) (?:currently )?(?:possible|supported|available|configurable)", 2.0),
    (
        r"(?:doesnt|does not|dont|do not|cannot|cant|wont|will not|no longer|isnt|is not|not) (?:yet "
        r"|currently |fully |officially )?(?:support|supported|supports)",
        2.5,
    ),
    (
        r"(?:lacks?|lacking|missing) (?:an? |the |any )?(?:option|feature|support|setting|ability|way"
        r"|integration|api|functionality)",
        2.0,
    ),
    (r"(?:enhancement|improvement|improve|improving|extend|extending|extension of)", 1.0),
    (
        r"(?:this|the|my|our) (?:pr|pull request|patch|change|changeset|commit|mr|merge request) "
        r"(?:\w+ )?(?:adds|introduces"
        r"|implements|enables|supports|allows|extends|provides|exposes|makes it possible|proposes)",
        3.0,
    ),
    (r"(?:integration|integrate|integrating) (?:with|into|for)", 1.5),
    (
        r"(?:dark mode|light mode|keyboard shortcuts?|hotkeys?|bulk (?:edit|delete|actions?|export|import"
        r"|update)|custom (?:fields?|domains?|roles?|reports?|themes?)|"
        r"export (?:to|as|into) (?:csv|pdf|excel|xlsx|json)|single sign[- ]on|\bsso\b|webhooks?|two[- ]factor"
        r"|2fa|api access|dark theme|offline mode)",
        1.0,
    ),
    (
        r"(?:upvote|\+1|vote for|second (?:this|that) (?:request|idea|suggestion)|i second that"
        r"|i agree with (?:this|the) (?:request|idea|suggestion))",
        2.0,
    ),
    (
        r"(?:it|this|that) would (?:really |greatly |also |be a )?(?:help|make|save|allow|simplify|improve|let"
        r"|enable|be (?:easier|simpler|faster|a huge|a big|a game))",
        2.0,
    ),
    (r"(?:instead|rather than|alternatively|in addition|optionally)", 0.5),
    (r"^\W{0,3}(?:the )?(?:ability|option|possibility|setting|way|button|shortcut|hotkey|toggle) to", 3.0),
    (r"^(?:[\w/+-]+ ){1,5}(?:support|integration|option|mode)\W{0,3}$", 2.5),
    (
        r"^\W{0,3}(?:better|easier|faster|improved|more|smarter|simpler|customi[sz]able|configurable|optional|native"
        r"|automatic) [\w/+-]+(?: [\w/+-]+){0,5}\W{0,3}$",
        2.0,
    ),
    (
        r"(?:should|could|would|must) (?:also |really |ideally |optionally |automatically |just )?(?:be able to|display"
        r"|show|have|support|allow|offer|provide|include|let|remember|save|keep|adapt|detect|ask|warn|open in"
        r"|default to"
        r"|scale|resize|respect|follow|sync|export|import|notify)",
        2.0,
    ),
    (
        r"(?:i|we) (?:just |really |simply |only )?want (?:it to|to be able to|to view|to have|to see"
        r"|the option|an option"
        r"|a way|it different|them to|the ability)",
        2.5,
    ),
    (
        r"^(?:please |also |and |just )?(?:add|make|create|implement|include|introduce|allow|provide|give us"
        r"|bring back) "
        r"(?:a |an |the |some |more |simple |new |an? option|support|hotkeys?|shortcuts?|buttons?|settings?|options?)",
        2.5,
    ),
    (
        r"(?:(?:this|that|the|my|an|the following|new) (?:feature|idea|request|enhancement|suggestion)|features? for)",
        1.5,
    ),
    (
        r"(?:waiting for (?:this|that|the|a) (?:feature|option|update|improvement)|(?:more )?votes?|voting"
        r"|bump(?:ing)? (?:this|the idea|the request))",
        2.0,
    ),
    (
        r"(?:can|could|should|would|will) (?:a|an|the|this|that|some) (?:\w+ ){0,3}be (?:added|included"
        r"|implemented|supported|built in|made)",
        3.0,
    ),
    (
        r"(?:hopefully|i hope|we hope|i really hope) (?:that )?(?:the |a |in )?(?:next|future|final|new|coming"
        r"|upcoming|later)"
        r" (?:\w+ )?(?:versions?|releases?|updates?|builds?)|(?:i|we) hope (?:that )?(?:the "
        r"|a )?(?:\w+ ){0,4}(?:will|would|gets?|are|is)"
        r" (?:also )?(?:\w+ )?(?:added|included|built|supported|implemented|available|come with|support|have)",
        2.5,
    ),
    (
        r"(?:i|we) (?:\w+ )?need (?:these|this|those|a|an|the|some|more) (?:\w+ ){0,2}(?:abilities|ability"
        r"|features?|options?"
        r"|shortcuts?|hotkeys?|settings?|functions?|functionality|integrations?)|(?:all )?(?:that )?(?:we are"
        r"|were|im|i am|i was)"
        r" (?:really )?looking for (?:is|are)|(?:willing|happy|ready) to pay (?:for|extra)|would (?:gladly "
        r"|happily )?pay (?:for|extra)",
        2.5,
    ),
    (r"(?:if you (?:add|added|implement|implemented|support|supported) (?:it|this|that)|why not (?:just )?\w+)", 2.0),
    (
        r"(?:bring back|brought back|(?:like|want|need|have) (?:the|my|our) (?:old|previous|good old) \w+ back"
        r"|(?:i|we)(?:d| would) (?:just |really )?like (?:the|my|our) .{0,30}back)",
        3.0,
    ),
    (
        r"(?:i|we) (?:hope|hoped) (?:you|this|it|that|there|someone|the devs|the developers) (?:\w+ ){0,4}"
        r"(?:can|could|will|would|add|be|gets?|support)",
        2.0,
    ),
    (r"feature", 0.8),
    # German.
    (
        r"ware (?:es |das )?(?:echt |sehr |wirklich )?(?:schon|toll|super|gut|praktisch|hilfreich|klasse|genial"
        r"|nutzlich|cool)",
        3.0,
    ),
    (
        r"(?:bitte|konntet ihr|konnt ihr|konnten sie|konnen sie|konntest du).{0,60}?(?:hinzufugen|einbauen"
        r"|erganzen|unterstutzen|implementieren|anbieten|ermoglichen|einfuhren)",
        3.0,
    ),
    (
        r"(?:ich wunsche mir|wir wunschen uns|ich hatte gerne|ich hatte gern|wir hatten gerne|wunschenswert)",
        3.0,
    ),
    (r"(?:feature-?wunsch|verbesserungsvorschlag|funktionswunsch|vorschlag|anregung)", 2.5),
    (
        r"(?:es fehlt|mir fehlt|uns fehlt) (?:eine?|die|der|das) (?:option|moglichkeit|funktion|einstellung)",
        2.5,
    ),
    (r"(?:moglichkeit|option) (?:zu|zum|zur|fur|,)", 1.5),
    # French.
    (
        r"(?:ce|il|ca) serait (?:vraiment |tres |trop )?(?:bien|super|genial|top|pratique|utile|chouette|ideal"
        r"|cool|interessant|sympa|parfait)",
        3.0,
    ),
    (
        r"(?:pourriez|pouvez|pourrais|peux)[- ]?(?:vous|tu)? .{0,40}?(?:ajouter|integrer|prendre en charge"
        r"|proposer|permettre|implementer)",
        3.0,
    ),
    (
        r"(?:jaimerais|je voudrais|je souhaiterais|nous aimerions|nous voudrions"
        r"|on aimerait) (?:bien )?(?:pouvoir|avoir|que|qu|voir|une|un)",
        3.0,
    ),
    (
        r"(?:ajouter|ajout d) (?:une?|la|le|des) (?:option|possibilite|fonction|fonctionnalite|bouton|parametre"
        r"|reglage)",
        3.0,
    ),
    (r"(?:demande de fonctionnalite|suggestion d(?:e |)amelioration|il manque (?:une?|la|le))", 3.0),
    # Spanish.
    (
        r"seria (?:muy |realmente )?(?:genial|bueno|util|estupendo|ideal|increible|excelente|interesante"
        r"|fantastico|perfecto|practico)",
        3.0,
    ),
    (r"(?:me|nos) gustaria (?:que|poder|tener|ver|una?|contar)", 3.0),
    (
        r"(?:podrian|pueden|podrias|puedes|podria)\s.{0,40}?(?:agregar|anadir|incluir|implementar|soportar"
        r"|permitir|integrar)",
        3.0,
    ),
    (r"(?:por favor|porfa) (?:agreguen|anadan|incluyan|agregar|anadir|implementen|incluir)", 3.0),
    (
        r"(?:sugerencia|solicitud de (?:funcion|funcionalidad|caracteristica)|falta (?:una?|la|el) (?:opcion"
        r"|funcion|posibilidad))",
        2.5,
    ),
    # Emoji often used for ideas and asks.
    (r"(?:💡|:bulb:)", 1.5),
)

BUG_REPORT: Final[tuple[CueSpec, ...]] = (
    (r"bug ?reports?", 3.0),
    (r"^\W{0,2}(?:bug|defect|regression|crash|broken|error|issue|problem)\s*(?:[:\])|]|-(?!>))", 4.0),
    (r"(?:type|kind|label)\s*[:/]\s*(?:bug|defect|regression)", 4.0),
    (r"(?:bugs?|buggy|bugged|glitch(?:es|y|ing|ed)?|defects?)", 2.5),
    (r"regress(?:ion|ions|ed)", 3.0),
    (
        r"(?:crash(?:es|ed|ing)?|segfaults?|segmentation fault|core dumped|access violation|blue screen|bsod"
        r"|kernel panic|panic(?:s|ked)?)",
        3.0,
    ),
    (r"(?:exceptions?|traceback|stack ?trace|backtrace|stacktrace|uncaught|unhandled)", 2.5),
    (
        r"(?:throws?|thrown|throwing|raises?|raised|raising|emits?|emitted|logs?) (?:an? |the |this "
        r"|following )?(?:\w+ )?(?:error|exception|warning)",
        3.0,
    ),
    (
        r"(?:type|value|key|index|attribute|reference|syntax|runtime|assertion|import|os|io|name|null ?pointer"
        r"|argument|range|memory|module ?not ?found)error",
        2.5,
    ),
    (
        r"(?:undefined is not|cannot read propert(?:y|ies)|is not a function|is not defined|null ?pointer"
        r"|nullreferenceexception|npe|nan values?|out of memory|oom|memory leak|leaks? memory|deadlock"
        r"|race condition|infinite loop|stack overflow|overflow|underflow|assertion failed|check failed)",
        2.5,
    ),
    (r"(?:errors?|erroring|errored)", 1.5),
    (r"error (?:message|code|dialog|popup|page|log)", 1.5),
    (r"(?:fail(?:s|ed|ing|ure|ures)?)", 2.0),
    (r"(?:broken|breaks|broke|breaking|borked)", 2.0),
    (
        r"(?:does ?nt|doesnt|does not|dosnt|dosent|doesent|doesnot|do ?nt|dont|do not|did ?nt|didnt|did not"
        r"|is ?nt|isnt|is not|are ?nt|arent|are not|was ?nt|wasnt|was not|wo ?nt|wont|will not|cant|can not"
        r"|cannot|could ?nt|couldnt|could not|never|no longer|stopped|stops|refuses to|fails to|unable to)"
        r" (?:\w+ )?(?:work|working|works|function|functioning|load|loading|open|opening|start|starting|launch"
        r"|play|playing|save|saving|sync|syncing|connect|connecting|respond|responding|render|rendering|display"
        r"|displaying|show|showing|appear|appearing|update|updating|compile|compiling|build|building|run"
        r"|running|install|installing|boot|print|printing|send|sending|upload|uploading|download|downloading"
        r"|import|importing|export|exporting|refresh|close|closing|resume|recogni[sz]e|detect|register|trigger"
        r"|fire|apply|persist|match|resolve)",
        3.0,
    ),
    (
        r"(?:is|are|was|were|gets?|got) (?:not |nt )?(?:not )?(?:being )?(?:shown|displayed|saved|loaded"
        r"|updated|applied|respected|honou?red|rendered|triggered|called|fired|cleared|reset|removed|deleted"
        r"|ignored) (?:correctly|properly|anymore|at all)",
        2.5,
    ),
    (
        r"(?:not|no longer|stopped|stop) (?:\w+ )?(?:working|loading|responding|rendering|syncing|showing"
        r"|displaying|updating|saving|opening|starting|playing|connecting)",
        3.0,
    ),
    (r"(?:stopped|stops|ceased) (?:working|functioning|responding|loading|playing|syncing)", 3.0),
    (r"(?:used to|use to) (?:work|be able|function|load|play|show|be fine)", 3.0),
    (
        r"(?:worked|was working|were working) (?:fine|great|perfectly|well|ok|okay|before|previously|until"
        r"|in (?:the )?(?:previous|last|older|earlier))",
        3.0,
    ),
    (
        r"(?:after|since) (?:i |we )?(?:the |this |last |latest |recent |todays |yesterdays )?(?:updat(?:e|ed"
        r"|ing)|upgrad(?:e|ed|ing)|release|version|patch|install(?:ing|ed)?|migration|deploy)",
        2.0,
    ),
    (
        r"(?:freez(?:e|es|ing)|froze|frozen|hang(?:s|ing)?|hung|stuck|unresponsive|not responding|lock(?:s"
        r"|ed)? up|locks)",
        2.5,
    ),
    (
        r"(?:nothing happens|does nothing|did nothing|no effect|has no effect|wont budge|goes blank"
        r"|blank (?:screen|page|window)|white screen|black screen|spinner forever|spins forever|loads forever"
        r"|infinite (?:loading|spinner))",
        3.0,
    ),
    (r"(?:time(?:s|d)? ?out|timeouts?|timing out)", 2.0),
    (
        r"(?:(?:error|status|http|code|returns?|returned|got|get|getting|throws?) (?:code |status )?(?:401|403"
        r"|404|500|502|503|504)\b|\b(?:401|403|404|500|502|503|504) (?:error|status|response|page|code)"
        r"|internal server error|bad gateway|service unavailable|not found error)",
        2.0,
    ),
    (
        r"(?:incorrect(?:ly)?|wrong(?:ly)?|inaccurate|invalid|mismatch(?:ed)?|inconsistent|corrupt(?:ed|s|ion)?"
        r"|garbled|scrambled|distorted|choppy|stutter(?:s|ing)?|flicker(?:s|ing)?|jitter(?:y|s)?|out of sync"
        r"|desync)",
        1.5,
    ),
    (
        r"(?:unexpected(?:ly)?|unintended|unintentional|weird|strange|odd|bizarre) (?:behaviou?r|result|output"
        r"|error|issue|crash|bug)",
        2.5,
    ),
    (r"(?:unexpected(?:ly)?|randomly|intermittent(?:ly)?|sporadic(?:ally)?|flaky|sometimes works)", 1.5),
    (
        r"(?:disappear(?:s|ed|ing)?|vanish(?:es|ed)?|gone missing|went missing|got lost|lost (?:my|all|our"
        r"|the) (?:data|work|changes|files|settings|bookmarks|history|messages))",
        2.0,
    ),
    (r"(?:data loss|loses? (?:my|all|our|the) (?:data|work|changes|settings))", 3.0),
    (
        r"(?:expected|expecting|should (?:be|have|return|show|display|work|not|only|open|load"
        r"|save))\b.{0,120}?\b(?:but|instead|however|whereas|actually)",
        3.0,
    ),
    (
        r"(?:drops?|dropping|loses?|losing|skips?|truncat(?:es|ed|ing)|cuts? off|miss(?:es|ing)|omits?"
        r"|duplicat(?:es|ed|ing))"
        r" (?:every|all|some|the|half|any|a few|most|several|random|certain)? ?(?:of (?:the|our|my) )?(?:rows?"
        r"|records?|items?"
        r"|messages?|data|entries|events|lines|columns?|fields?|values?|attachments?|emails?|files?|contacts?"
        r"|characters?)",
        2.5,
    ),
    (r"(?:which|that|this|it) (?:breaks|broke|ruins|blocks|kills|corrupts) (?:our|my|the|all|every)", 2.5),
    (
        r"(?:expected (?:behaviou?r|result|output|outcome)|actual (?:behaviou?r|result|output|outcome)"
        r"|observed (?:behaviou?r|result)|current behaviou?r)",
        2.0,
    ),
    (
        r"(?:steps? to reproduce|to reproduce|repro steps|reproduc(?:e|ed|es|ible|ing|tion)|repro\b|str:"
        r"|minimal (?:reproducible )?example|mcve)",
        2.5,
    ),
    (
        r"(?:please fix|needs? (?:a )?fix(?:ing)?|should be fixed|fix (?:this|it|the (?:bug|issue|crash))"
        r"|hotfix|patch (?:this|it))",
        2.5,
    ),
    (r"(?:workaround|work around|work-around)", 1.0),
    (
        r"(?:this|the|my|our) (?:pr|pull request|patch|change|changeset|commit|mr|merge request) "
        r"(?:\w+ )?(?:fixes|resolves"
        r"|addresses|corrects|repairs|works around)",
        3.0,
    ),
    (
        r"(?:same|similar|this|that|a|the|strange|weird|odd|serious|major|big|annoying) "
        r"(?:problem|issue|bug|behaviou?r|glitch)",
        1.0,
    ),
    (r"(?:problem|issue) (?:still )?(?:exists|persists|remains|is still there|occurs|happens|appears|started)", 2.5),
    (
        r"(?:seen|noticed|experienc(?:e|ed|ing)|having|had|have|get|getting) (?:that|this|the same|it) too"
        r"|happening to me|happens (?:to me|for me|here) (?:too|as well)",
        2.5,
    ),
    (
        r"(?:cant|cannot|can not|couldnt|could not|unable to) get (?:\w+ ){0,5}to (?:work|play|load|open|run|show|start"
        r"|display|save|sync|connect|record|stop|appear|respond)",
        3.0,
    ),
    (
        r"(?:then|and then|suddenly|after (?:a|that|some)\b.{0,20}) (?:it )?(?:stops|stopped|freezes|froze"
        r"|crashes|crashed"
        r"|quits|closes|dies|hangs|disappears|goes black|goes blank|nothing)",
        3.0,
    ),
    (
        r"(?:nothing works|nothing happened|all (?:messed|screwed) up|(?:messed|screwed|mucked|fouled) up|dysfunctional"
        r"|malfunction(?:ing|s)?|misbehav(?:es|ing|iou?r))",
        2.5,
    ),
    (r"(?:even though|although|despite) (?:i|we|it|the|this) .{0,60}(?:still|not|doesnt|dont|wont|isnt|keeps)", 2.0),
    (
        r"(?:still|again) (?:not|no|doesnt|does not|isnt|is not|wont|cant|hasnt|havent|exists|persists|fails?"
        r"|crashes|broken|happening|there"
        r"|the same)",
        1.5,
    ),
    (
        r"(?:all|only thing|the only thing) (?:i|we) (?:get|see|hear|got) (?:is|are)|(?:i|we) (?:only )?(?:get"
        r"|see|hear|got) "
        r"(?:a |an |the )?(?:blank|black|white|green|grey|gray|empty|frozen|distorted|garbled)",
        2.5,
    ),
    (
        r"(?:works?|worked|plays?|played|runs?|ran|loads?|loaded)(?: fine| ok| okay| well| perfectly"
        r"| great)? (?:on|in|with|for|from)"
        r" .{0,60}\bbut (?:not|when|if|on|in|with|from|after|it)",
        3.0,
    ),
    (r"^(?:[\w.+-]+ ){0,4}(?:problems?|issues?|bugs?|glitch(?:es)?|errors?|crash(?:es)?)\W*$", 2.5),
    (
        r"(?:just|suddenly|randomly|simply|then) (?:stops|stopped|quits|closes|closed|dies|died|freezes|froze"
        r"|crashes|crashed|hangs|disappears)",
        2.5,
    ),
    (r"(?:stops|stopped|freezes|froze|cuts out|cut out|dies) (?:after|at|when|during|every|halfway|midway)", 2.5),
    (
        r"(?:wont|doesnt|does not|dont|didnt|will not|did not) go through|(?:cannot|cant|can not"
        r"|unable to) (?:get|receive|reach|find) (?:the |a |my |any )?\w+",
        1.5,
    ),
    (
        r"(?:is|are|was|were) (?:not|nt) (?:shown|displayed|played|saved|recorded|remembered|kept|loaded|working"
        r"|recogni[sz]ed|detected|updated|applied)",
        2.5,
    ),
    (
        r"(?:will not|wont|doesnt|does not|didnt|did not|doesent|dosent|dosnt) (?:\w+ )?(?:remember|keep|record|stay"
        r"|stick|retain|follow|reflect|exit|quit|stop|pause|seek|scroll|focus|resize|fit|hold|persist|register"
        r"|take effect|go away)",
        3.0,
    ),
    (r"(?:issues?|problems?|trouble)", 1.0),
    (
        r"(?:same (?:issue|problem|bug|error) (?:here|for me|happens)|happens to me too|i (?:have|had|get|got"
        r"|am having|m having) the same (?:issue|problem|error|bug)|(?:can|could) (?:confirm|reproduce) (?:this"
        r"|the (?:bug|issue|problem))|confirmed? (?:the |this )?(?:bug|issue))",
        3.0,
    ),
    (r"(?:i|we) (?:keep|kept) (?:getting|seeing|receiving|hitting)", 2.5),
    (
        r"keeps? (?:crashing|freezing|failing|hanging|logging (?:me|us) out|disconnecting|resetting|reverting"
        r"|closing|restarting|reloading|jumping|skipping|flickering|duplicating|dropping)",
        3.0,
    ),
    (r"(?:won ?t|wont|will not|doesnt|does not) let (?:me|us|you|users) ", 2.0),
    (
        r"(?:skipp(?:ing|s)|skips|lags?|lagging|laggy|dropouts?|overwritten|overwrites|lost frames|frame drops?"
        r"|black bars|no picture|only sound|drops? (?:frames|audio|connection)|dropped frames|no sound|no audio"
        r"|no video|audio (?:is )?(?:missing|delayed)|sound (?:is )?(?:missing|delayed))",
        1.5,
    ),
    (r"(?:warning|deprecat(?:ion|ed) warning)s?", 0.8),
    (
        r"(?:is|are|was|were|seems?|looks?) (?:completely |totally |still |now )?(?:broken|wrong|incorrect|off"
        r"|missing|empty|blank|duplicated|cut off|truncated|misaligned|overlapping)",
        2.5,
    ),
    (
        r"(?:cant|can not|cannot|unable to|not able to|impossible to) (?:log ?in|sign ?in|access|open|load|save"
        r"|connect|upload|download|install|start|play|launch|submit|export|import|login)",
        2.5,
    ),
    (r"(?:error|exception|failure|crash) (?:when|while|on|after|during|in|if|with)", 1.5),
    (r":(?:bug|beetle|ladybug|boom|collision|rotating_light|fire_engine):", 3.0),
    # Emoji.
    (r"(?:🐛|🐞|🪲|💥)", 3.0),
    # German.
    (
        r"(?:funktioniert|klappt|geht|lauft|ladt|startet|offnet) (?:\w+ ){0,2}(?:nicht|nicht mehr|gar nicht|kaum)",
        3.0,
    ),
    (
        r"(?:sturzt|stuerzt)(?: \w+){0,4} ab|absturz|absturze|abgesturzt|hangt sich auf|friert (?:\w+ )?ein"
        r"|eingefroren",
        3.0,
    ),
    (r"(?:fehlermeldung|fehler|kaputt|defekt|fehlerhaft|falsch angezeigt)", 2.0),
    # French.
    (
        r"(?:ne |n)?(?:fonctionne|marche|charge|demarre|repond|souvre|saffiche|se lance|sauvegarde) (?:pas|plus)",
        3.0,
    ),
    (r"(?:plante|plantage|crashe|bloque|fige|gele|bogue|beug|erreur|dysfonctionnement|ne repond plus)", 2.0),
    # Spanish.
    (r"(?:no|ya no) (?:funciona|carga|abre|arranca|responde|guarda|sincroniza|se abre|se carga|inicia)", 3.0),
    (r"(?:se (?:cuelga|cierra sola|cierra solo|bloquea|congela)|fallo|falla|roto|rota|errores)", 2.0),
)

PAIN_POINT: Final[tuple[CueSpec, ...]] = (
    (
        r"(?:frustrat(?:ed|ing|ion|es)|annoy(?:ed|ing|ance|s)|irritat(?:ed|ing)|infuriat(?:ed|ing)"
        r"|aggravat(?:ed|ing)|exasperat(?:ed|ing))",
        3.0,
    ),
    (
        r"(?:tedious|cumbersome|clunky|painful|a pain|pain in the|awkward|fiddly|tiresome|laborious|time[- ]consuming)",
        3.0,
    ),
    (r"(?:hate|hated|hates|hating|detest|loathe|cant stand|can not stand)", 3.0),
    (
        r"(?:dislike|dont like|do not like|didnt like|not a fan|am not happy|im not happy|not happy|unhappy"
        r"|not satisfied|dissatisfied|displeased)",
        3.0,
    ),
    (r"(?:terrible|horrible|awful|dreadful|atrocious|abysmal|pathetic|appalling|horrendous|lousy)", 3.0),
    (
        r"(?:useless|worthless|unusable|pointless|a joke|garbage|rubbish|crap|crappy|junk|trash|sucks?|sucky)",
        3.0,
    ),
    (r"(?:worst|the worst|worse|worsened|getting worse|step backwards?|step back|downgrade)", 2.5),
    (
        r"(?:confusing|confused|unintuitive|counter-?intuitive|not intuitive|unclear|misleading|hard to (?:find"
        r"|understand|use|read|navigate|figure out|follow|see)|difficult to (?:find|understand|use|read"
        r"|navigate|set up|configure))",
        2.5,
    ),
    (
        r"(?:too (?:slow|many|much|long|complicated|complex|hard|expensive|small|big|tiny|cluttered|busy|often"
        r"|noisy|bright|dark)|so slow|really slow|very slow|painfully slow|super slow|extremely slow|sluggish)",
        2.5,
    ),
    (
        r"(?:slow(?:ly|ness|er)?|laggy|bloated|heavy|resource[- ]hungry|eats (?:all )?(?:my )?(?:ram|memory|cpu"
        r"|battery))",
        1.5,
    ),
    (
        r"(?:takes? (?:forever|ages|too long|so long|way too long|minutes)|waste of (?:time|money)"
        r"|wasting (?:my |our )?time|waited (?:for )?(?:hours|days|weeks))",
        3.0,
    ),
    (
        r"(?:every (?:single )?time (?:i|we) (?:have|need) to|have to (?:manually|keep|constantly|always"
        r"|repeatedly)|(?:i|we) (?:always|constantly|keep) (?:have|having) to|manually)",
        2.0,
    ),
    (
        r"(?:force[sd]? (?:me|us|you|users|people) to|forcing (?:me|us|you|users|people) to|no choice but"
        r"|have no choice)",
        2.5,
    ),
    (
        r"(?:disappoint(?:ed|ing|ment)|let ?down|unacceptable|ridiculous|absurd|insane|outrageous|nightmare"
        r"|a mess|messy|shameful|embarrassing|a shame|half-?baked|sloppy)",
        3.0,
    ),
    (
        r"(?:ugly|cluttered|overwhelming|not (?:user-?)?friendly|user[- ]unfriendly|overcomplicated"
        r"|over-?complicated|convoluted|bad (?:ux|ui|design|experience|usability))",
        2.5,
    ),
    (
        r"(?:fed up|sick of|tired of|had enough|gave up|give up|giving up|losing (?:my )?patience"
        r"|at my wits end|driving (?:me|us) (?:crazy|nuts|mad)|drives (?:me|us) (?:crazy|nuts|mad))",
        3.0,
    ),
    (
        r"(?:cancel(?:l?ing|led)? (?:our|my|the) (?:subscription|plan|account|contract)|switch(?:ing|ed)? (?:to"
        r"|over to) (?:a |another )?(?:competitor|alternative|different)|looking (?:at|for) alternatives"
        r"|moving (?:away|to another)|"
        r"(?:will|would|might|may|could|going to|gonna|about to|likely to|at risk to) churn"
        r"|churn(?:ing)? (?:to|over to)"
        r"|considering (?:leaving|switching|moving|cancel))",
        3.0,
    ),
    (r"(?:expensive|overpriced|pricey|too costly|cost too much|price (?:increase|hike))", 2.5),
    (
        r"(?:lack of|lacks|lacking|no way to|doesnt let me|does not let me|wont let me|impossible to"
        r"|not possible to|struggl(?:e|ed|es|ing)|hard time|headache)",
        1.5,
    ),
    (
        r"(?:still (?:not|no|doesnt|isnt|broken|waiting|havent|hasnt)|months (?:later|now|ago)|years (?:later"
        r"|now)|for (?:months|years|weeks))",
        1.5,
    ),
    (
        r"(?:why (?:on earth|the hell|would anyone|would you|do i have to|do we have to|must i|is it so"
        r"|does it have to|cant you|cant it|is there no|isnt there))",
        2.5,
    ),
    (r"(?:sadly|unfortunately|regrettably|too bad|its a pity|what a pity|shame that|wish it didnt)", 1.5),
    (r"(?:mad|angry|furious|upset|livid|pissed)", 2.0),
    (
        r"(?:not (?:great|good|ideal|acceptable|worth)|(?:pretty|really|very|quite) (?:bad|poor)|poor(?:ly)?)",
        2.0,
    ),
    (r"(?:😡|😠|🤬|😤|😩|😫|😞|😒|🙄|👎|💩|😖|😣|🤦)", 2.5),
    # German.
    (
        r"(?:nervig|nervt|argerlich|umstandlich|frustrierend|schrecklich|furchtbar|unbrauchbar|katastrophe"
        r"|katastrophal|enttauscht|enttauschend|mullig|zu langsam|sehr langsam|extrem langsam)",
        3.0,
    ),
    (
        r":(?:rage|angry|triumph|weary|tired_face|disappointed|unamused|-1|thumbsdown|face_palm|facepalm|sob|cry"
        r"|slightly_frowning_face|white_frowning_face|persevere|confounded|face_with_rolling_eyes|exploding_head"
        r"|pouting_face|skull):",
        2.5,
    ),
    # French.
    (
        r"(?:penible|agacant|enervant|frustrant|inutilisable|decu|decevant|horrible|nul|nulle|(?:tres|trop"
        r"|super) lent|lenteur|insupportable|galere)",
        3.0,
    ),
    # Spanish.
    (
        r"(?:molesto|molesta|frustrante|insoportable|inutil|decepcionad[oa]|decepcionante|(?:muy"
        r"|demasiado) lent[oa]|pesim[oa]|horrible|terrible)",
        3.0,
    ),
)

PRAISE: Final[tuple[CueSpec, ...]] = (
    (
        r"(?:i|we) (?:really |absolutely |just |totally |truly )?(?:love|adore|enjoy|like|dig) (?:it|this|the"
        r"|your|how|that|using|working|its|these|our|all)",
        3.0,
    ),
    (r"(?:love|loving|loved|adore) (?:it|this|the new|how|that|using|everything)", 3.0),
    (
        rf"(?:great|awesome|amazing|fantastic|excellent|brilliant|wonderful|superb|outstanding|impressive"
        rf"|incredible|nice|good|solid|stellar|fabulous|terrific|beautiful|lovely|phenomenal"
        rf"|killer) (?:\w+ )?{_APP_NOUN}",
        2.5,
    ),
    (
        r"(?:awesome|amazing|fantastic|excellent|brilliant|wonderful|superb|outstanding|impressive|incredible"
        r"|stellar|fabulous|terrific|phenomenal|flawless(?:ly)?|top[- ]notch|first[- ]class|world[- ]class"
        r"|best[- ]in[- ]class)",
        2.0,
    ),
    (
        r"(?:great|perfect(?:ly)?|beautiful(?:ly)?|lovely|elegant|slick|polished|seamless(?:ly)?|snappy"
        r"|blazing fast|lightning fast|rock solid|so fast|very fast|super fast|smooth(?:ly)?)",
        1.0,
    ),
    (
        r"(?:works? (?:great|perfectly|flawlessly|beautifully|like a charm|wonderfully|brilliantly|really well"
        r"|so well|very well|amazingly|nicely)|does (?:the|its) job (?:well|perfectly))",
        2.5,
    ),
    (
        r"(?:(?<!to )the best(?! (?:of|choice|way|option|solution|bet|approach))|best (?:\w+ )?(?:app|tool"
        r"|player|software|program|product|browser|thing|feature|service|decision|experience|support|team"
        r"|purchase|investment)|simply the best|hands down)",
        2.5,
    ),
    (
        r"(?:kudos|props to|hats off|well done|nice work|good job|great job|great work|good work|amazing work"
        r"|bravo|nailed it|you rock|you guys rock|rocks|keep it up|keep up the (?:good|great) work|keep up the)",
        3.0,
    ),
    (
        r"(?:big fan|huge fan|a fan of|fan of (?:the|this|your)|game[- ]?changer|life ?saver|lifesaver"
        r"|saved (?:me|us) (?:so much|a lot|hours|tons|days|time)|saves (?:me|us) (?:so much|a lot|hours|tons"
        r"|time))",
        3.0,
    ),
    (
        r"(?:thank you|thanks|thx|ty) (?:so much |very much |a lot |again )?(?:for (?:the|this|a|an|such|making"
        r"|building|creating|developing|your (?:great|awesome|hard)|all (?:the|your) (?:great|hard)))",
        1.5,
    ),
    (
        r"(?:delighted|impressed|thrilled|happy with|pleased with|satisfied with|glad (?:we|i) (?:switched"
        r"|chose|found|picked)|blown away|in love with|cant live without|couldnt live without|cant imagine)",
        3.0,
    ),
    (
        r"(?:easy to use|easy to set up|easy to learn|user[- ]friendly|intuitive|straightforward|just works"
        r"|it just works|worth (?:every penny|it|the money))",
        2.0,
    ),
    (
        r"(?:highly recommend|would recommend|recommend (?:it|this)|recommended it|5 stars|five stars|10/10|a\+)",
        3.0,
    ),
    (r"(?:❤|❤️|💕|💖|😍|🥰|🙌|👏|🎉|🔥|💯|🚀|⭐|🌟|😊|😀|😃|🙂|👍)", 1.5),
    # German.
    (
        r"(?:ich liebe|wir lieben|gefallt (?:mir|uns)|begeistert|hervorragend|ausgezeichnet|grossartig|genial"
        r"|spitze|klasse arbeit|tolle arbeit|super arbeit|tolles (?:tool|programm|produkt)"
        r"|vielen dank fur (?:die|das|eure|ihre) (?:tolle|super|grossartige))",
        3.0,
    ),
    (
        r":(?:tada|heart|hearts|heart_eyes|fire|100|raised_hands|clap|star-struck|star_struck|rocket|sparkles"
        r"|partying_face|muscle|star2|star|smile|smiley|grinning|blush|heart_eyes_cat|sparkling_heart):",
        1.5,
    ),
    # French.
    (
        r"(?:jadore|nous adorons|on adore|genial|excellent|formidable|bravo|super (?:outil|application|appli"
        r"|produit|boulot|travail)|merci pour (?:ce|cette|votre) (?:super|excellent|formidable|travail|outil)"
        r"|tres bien fait|parfait)",
        2.5,
    ),
    # Spanish.
    (
        r"(?:me encanta|nos encanta|excelente|genial|increible|buen trabajo|gran trabajo|maravillos[oa]"
        r"|fantastic[oa]|gracias por (?:esta|este|la|el) (?:increible|excelente|gran))",
        2.5,
    ),
)

QUESTION: Final[tuple[CueSpec, ...]] = (
    (r"^\W{0,2}(?:question|q|help|support|how ?to|howto)\s*(?:[:\])|]|-(?!>))", 4.0),
    (r"(?:type|kind|label)\s*[:/]\s*(?:question|support|help)", 4.0),
    (r"^(?:how|what|why|where|when|which|who|whom|whose)\b", 1.5),
    (
        r"^(?:is|are|was|were|do|does|did|can|could|should|would|will|has|have|had|may|might|shall|isnt|doesnt"
        r"|dont|cant|wont|arent|didnt)\s+(?:i|we|you|it|there|this|that|these|those|he|she|they|anyone|anybody"
        r"|someone|somebody|one|my|the|your)\b",
        1.5,
    ),
    (r"how (?:do|can|could|should|would|does|did|to|is|are|come|much|many|long|often)", 2.0),
    (
        r"(?:what|which) (?:is|are|was|does|do|should|would|could|can|settings?|options?|version|format|way)",
        1.5,
    ),
    (r"why (?:is|are|does|do|did|would|cant|doesnt|isnt|arent|wont|didnt)", 1.5),
    (r"where (?:is|are|can|do|does|did|should|would)", 2.0),
    (
        r"(?:is|are) (?:there|it) (?:a |any |some )?(?:way|possible|option|setting|method|plugin|extension"
        r"|workaround|solution|guide|tutorial|example|documentation)",
        3.0,
    ),
    (r"(?:can|could|may) (?:i|we|one|you|someone|anyone|somebody|anybody)\b", 1.0),
    (r"(?:does|do|did) (?:anyone|anybody|someone|somebody|any ?one|you guys|anyone else|people)", 2.5),
    (
        r"(?:anyone|anybody|someone|somebody) (?:know|knows|have|has|got|able|tried|else|help|mind|seen|figured"
        r"|care|could|can|familiar)",
        2.5,
    ),
    (
        r"(?:any|(?:need|want|looking for|appreciate|welcome|get) (?:some|any|a few)) (?:ideas?|help"
        r"|suggestions?|advice|tips?|pointers?|hints?|thoughts|clues?|insight|guidance|recommendations?)",
        2.5,
    ),
    (
        r"(?:please help|help me|help needed|need (?:some |your )?help|can (?:you|someone|anyone) help"
        r"|could (?:you|someone|anyone) help|looking for (?:help|advice|guidance)|seeking (?:help|advice)"
        r"|help please|help with|how-?to)",
        3.0,
    ),
    (
        r"(?:i was wondering|wondering (?:if|whether|how|why|what|where)|i wonder (?:if|whether|how|why)|(?:i"
        r"|id|we) (?:would )?(?:like|want|need) to (?:know|understand|ask|find out|learn)|curious (?:if|whether"
        r"|how|about|why|what)|not sure (?:how|if|whether|what|why|where|which)|no idea (?:how|why|what|where)"
        r"|cant figure out|can not figure out|trying to (?:figure out|understand|find out))",
        3.0,
    ),
    (
        r"(?:(?:quick|simple|general|dumb|stupid|silly|noob|newbie|beginner) question|(?:a|one|my|another"
        r"|follow-?up) question|questions? (?:about|regarding|on|for)|i have a question|got a question|(?:my"
        r"|the|first|second|other) question is)",
        3.5,
    ),
    (
        r"(?:what am i doing wrong|what did i do wrong|am i missing something|is this expected"
        r"|is this (?:the )?(?:intended|correct|normal|right)|is that (?:normal|expected)|(?:best|right|correct"
        r"|recommended|proper|preferred) way to)",
        3.0,
    ),
    (
        r"(?:clarif(?:y|ication)|explain|explanation|understand(?:ing)?|documentation|docs|documented|tutorial"
        r"|guide|example)",
        1.0,
    ),
    (
        r"(?:how come|in what way|is it (?:normal|expected|safe|ok|okay)|what (?:happens|happened) (?:if|when|to))",
        2.5,
    ),
    (r"¿", 3.0),
    # German.
    (
        r"(?:wie (?:kann|konnen|mache|macht|geht|funktioniert|stelle|finde|bekomme)"
        r"|gibt es (?:eine?n? )?(?:moglichkeit|weg|option|einstellung)|kann man|weiss jemand|hat jemand"
        r"|ist es moglich|wo finde|warum (?:ist|wird|kann|geht)|(?:eine )?frage)",
        2.5,
    ),
    (
        r"(?:thanks|thank you|thx|ty)(?: (?:so|very) much)? (?:in advance|for any (?:help|advice|suggestions"
        r"|ideas|tips))"
        r"|(?:your|any) (?:help|advice|suggestions?|assistance|input) (?:would be|is|will be) (?:greatly |much |really "
        r"|very much |most )?appreciated|appreciate (?:any|your) (?:help|advice|input)|give me a hand"
        r"|(?:i|we) need (?:help|advice|assistance)",
        3.0,
    ),
    (r"(?:any|is there a|is there any) (?:solutions?|fix|workaround|way around)", 2.5),
    # French.
    (
        r"(?:comment (?:faire|puis|peut|peux|est|fait|on|je|activer|desactiver|changer)|est-?ce que"
        r"|est-?il possible|y a-?t-?il|pourquoi|ou (?:se trouve|puis|est|trouver)|quelqu ?un (?:sait|peut|a)"
        r"|(?:une |ma )?question)",
        2.5,
    ),
    (
        r"(?:not sure|unsure|dont know|do not know|wondering) (?:if|whether) (?:this|it|its|it is"
        r"|that) (?:is )?(?:really )?"
        r"(?:a |an )?(?:bug|problem|issue|expected|intended|normal|my fault|on my side)|is (?:this|it"
        r"|that) (?:a bug|expected"
        r"|intended|normal|by design)|(?:bug|problem) (?:with|in) (?:vs ?code|\w+) or (?:not|me|my)",
        3.0,
    ),
    (
        r"my (?:own )?(?:code|program|programs|script|scripts|project|assignment|homework|function|class"
        r"|website|html|css"
        r"|python|java|javascript|notebook|model|implementation|query|loop)",
        1.5,
    ),
    (
        r"(?:beginner|newbie|noob|new to (?:coding|programming|this|python|java|javascript|react|vs ?code|the)"
        r"|learning (?:to|how)"
        r"|tutorial|online course|assignment|homework|class project|student|respected (?:sir|madam|mam|team)"
        r"|hope you are (?:doing )?well)",
        2.0,
    ),
    (r"(?:i|we) (?:am|m|are|re|was|were) (?:trying|attempting|struggling) to", 1.5),
    # Spanish.
    (
        r"(?:como (?:puedo|se|hago|hacer|configuro|cambio|activo|desactivo|podemos)|hay (?:alguna )?(?:forma"
        r"|manera|opcion)|es posible|alguien sabe|alguien (?:puede|me puede)|por que|donde (?:esta|puedo|se)"
        r"|(?:una |mi )?pregunta)",
        2.5,
    ),
)

NOISE: Final[tuple[CueSpec, ...]] = (
    # Greetings, thanks, sign-offs and acknowledgements (anchored: the whole sentence is only that).
    (
        r"^(?:hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)|dear \w+|hallo"
        r"|guten (?:morgen|tag|abend)|bonjour|bonsoir|salut|hola|buenos dias|buenas (?:tardes|noches))"
        r"(?: (?:all|everyone|team|folks|guys|there|again|\w+))?\W*$",
        4.0,
    ),
    (
        r"^(?:many |thanks|thank you|thank u|thx|ty|tyvm|cheers|much appreciated|appreciate it|danke"
        r"|vielen dank|merci|gracias|muchas gracias)"
        r"(?: (?:so|very) much| a lot| again| all| everyone| guys| for (?:the|your) (?:help|reply|response"
        r"|quick (?:reply|response)|time|info|information|update|answer|feedback|explanation|support|link|tip"
        r"|suggestion|advice))*\W*$",
        4.0,
    ),
    (
        r"(?:thanks|thank you|thx) (?:for (?:your|the) (?:help|reply|replies|response|answer|time|quick|support"
        r"|info|assistance|patience|feedback|explanation|link|tip|advice|suggestion))",
        2.0,
    ),
    (
        r"^(?:ok|okay|k|sure|yes|yep|yeah|no|nope|got it|gotcha|sounds good|sounds great|will do|noted|perfect"
        r"|great|cool|awesome|nice|no worries|no problem|np|done|agreed|makes sense|fair enough|understood"
        r"|right|lol|haha|\+1|👍|🙏|😊|🙂|✅|:\+1:|:thumbsup:|:pray:|:white_check_mark:|:ok_hand:|:eyes:)\W*$",
        4.0,
    ),
    (
        r"^(?:best|kind|warm)? ?regards\W*|^(?:best|cheers|thanks|sincerely|talk soon|speak soon"
        r"|have a (?:great|nice|good) (?:day|weekend|one))\W*$|mit freundlichen grussen|viele grusse"
        r"|cordialement|saludos",
        4.0,
    ),
    # Scheduling and logistics.
    (
        r"(?:meeting|calendar (?:invite|invitation)|invite|reschedul(?:e|ed|ing)|agenda|time ?slot|availability"
        r"|are you (?:free|available)|works for me|does (?:\w+ )?work for you|let me know (?:when|what time"
        r"|if .{0,20} works)|"
        r"(?:zoom|teams|google meet|meet|webex) (?:link|call|meeting)|dial[- ]in|catch[- ]?up|sync up|standup"
        r"|stand-up|on the call|hop on a call|jump on a call|book a (?:call|time|demo)|(?:next|this) (?:week"
        r"|monday|tuesday|wednesday|thursday|friday)|tomorrow|"
        r"(?:at|by) \d{1,2}(?::\d\d)? ?(?:am|pm)|(?:am|pm) (?:est|pst|cet|gmt|utc|et|pt)|termin|besprechung"
        r"|reunion|rendez-vous)",
        2.0,
    ),
    (
        r"hope (?:you|everyone|all of you|you all|the team) (?:had|have|are having|enjoyed|is having) (?:a "
        r"|an )?(?:great|good"
        r"|lovely|nice|wonderful|relaxing|restful|fun)? ?(?:weekend|day|week|holiday|holidays|break|time"
        r"|vacation|trip|start)"
        r"|happy (?:friday|monday|holidays|new year|birthday|thanksgiving)|hope (?:all is|this finds you"
        r"|you are|youre) well"
        r"|(?:have|enjoy) a (?:great|good|lovely|nice|wonderful) (?:weekend|day|week|holiday|evening)",
        4.0,
    ),
    (
        r"(?:push|move|shift|reschedule|postpone|bump|cancel|confirm|book|schedule|set up|arrange) (?:our|the"
        r"|this|my|a|tomorrows"
        r"|todays|next|a quick|a short)? ?(?:call|meeting|sync|demo|catch-?up|session|chat|check-?in|standup"
        r"|1:1|one-on-one"
        r"|onboarding call|review|workshop)|(?:on|for|until|by|before|after) (?:monday|tuesday|wednesday"
        r"|thursday|friday"
        r"|saturday|sunday)(?: (?:at|morning|afternoon|evening))?",
        3.0,
    ),
    # Office small talk: food, drinks, games, weekend plans ("lunch at 12:30?" is no product question).
    (
        r"(?:lunch|dinner|breakfast|coffee(?: run| break)?|tacos?|pizza|donuts?|cake|snacks|drinks|beers?"
        r"|happy hour|the game tonight|weekend plans|office plant|at noon"
        r"|anyone (?:up for|want|wants|around|have a spare|got a spare)|who(?:s| is)? (?:in|joining|coming"
        r"|watching|wants something)|count me in)",
        3.0,
    ),
    # Bots and automated mail.
    (
        r"(?:has joined the channel|has left the channel|joined #|set the channel (?:topic|purpose|description)"
        r"|pinned a message|renamed the channel|reminder:|this is an automated|automated message|do not reply"
        r"|donotreply|no-?reply|unsubscribe|view (?:this )?in (?:your )?browser|out of (?:the )?office|\booo\b"
        r"|automatic reply|auto-?reply|delivery status notification|mail delivery|your (?:order|invoice|receipt"
        r"|payment|verification code|password reset)|password reset|verification code|confirm your (?:email"
        r"|account)|newsletter|webinar|click here)",
        3.0,
    ),
    # Resolution and acknowledgements in support threads.
    (
        r"(?:(?:that|this|it) (?:did the trick|worked|works now|fixed it|solved it|helped)|(?:works"
        r"|working) (?:now|again|fine now|perfectly now)|(?:problem|issue) (?:is |was )?(?:solved|resolved"
        r"|fixed|gone)|"
        r"(?:solved|fixed|resolved) (?:it|the (?:problem|issue))|(?:issue|problem) solved|never ?mind|nvm"
        r"|figured it out|sorted it|all good now|"
        r"(?:marked|mark) (?:as )?(?:solved|resolved)|thanks,? that (?:worked|helped|fixed))",
        3.5,
    ),
    # Problems that went away, or that only exist elsewhere.
    (
        r"(?:errors?|problems?|issues?|crash(?:es)?|messages?|warnings?|it) (?:now )?(?:no longer|doesnt"
        r"|does not|dont|do not"
        r"|wont|never|didnt) (?:\w+ )?(?:appear|show|happen|occur|come up|pop up|exist|hang|crash|freeze)s?"
        r"|no (?:problems?|issues?|errors?|crash(?:es)?) (?:when|with|in|on|using|since|after|anymore|now|at all)"
        r"|(?:works|worked|plays|played|runs|ran) (?:just )?(?:fine|perfectly|well|ok) (?:in|on|with) (?:other"
        r"|another|any other)",
        3.5,
    ),
    (r"^(?:do not|dont|never|avoid) \w+", 2.0),
    (r"(?:now|finally) (?:\w+ ){0,3}(?:works|plays|runs|loads|shows|opens)(?: \w+)?", 3.0),
    # Helpers' questions and offers: what a support agent or forum helper asks the reporter.
    (
        r"^(?:have|did|do|are|were|can|could|would|will|is|does|when|what|where|which)\W? (?:you|u) (?:\w+ ){0,2}"
        r"(?:tried|try|using|use|running|run|mean|see|seeing|get|got|share|post|attach|upload|send|check"
        r"|checked|confirm"
        r"|remember|disable|disabled|enable|enabled|install|installed|reinstall|restart|clear|cleared|update"
        r"|updated|test"
        r"|tested|reproduce|provide|give|describe|explain|clarify|tell us|let us know|file|open|create|start|say|said"
        r"|notice|noticed|set|changed|have (?:any|a|the)|have an?)",
        4.0,
    ),
    (
        r"(?:did|does|has|would) (?:this|that|it|either|any of (?:this|these|those)) (?:fix|help|solve|resolve"
        r"|work|change"
        r"|make a difference)|is the (?:problem|issue) still|(?:any|some) improvement|what happens (?:when|if) you"
        r"|(?:please )?let (?:us|me) know (?:if|whether|how|what)|hope (?:this|that|it) helps|(?:you|u) (?:should|could"
        r"|can|may|might|need to|have to|will need to) (?:contact|try|check|be able|use|look|ask|file|post|start|create"
        r"|disable|enable|update|reinstall|restart|go|open|see|find|read)",
        4.0,
    ),
    (
        r"^(?:and |so )?(?:you|u) (?:mean|meant|said)|(?:if|when) your question is (?:resolved|answered)"
        r"|mark (?:your|this|the|that)"
        r" (?:own )?(?:last )?(?:post|reply|answer) as|chosen solution|solved the problem",
        4.0,
    ),
    # Guidance and answers given *to* a user, and descriptions of a user's set-up.
    (
        r"^(?:go to|click|select|open|type|press|enter|navigate to|choose|uncheck|tick|untick|set|change"
        r"|right-?click|double-?click|drag|hold|copy|paste|find|look for|look in|scroll|download|install"
        r"|reinstall|uninstall|restart|reboot|delete|clear|reset|make sure|ensure|check|see|read|refer to|visit"
        r"|try|just|simply|first|then|next|finally|now|after that|also|note|tip)\b",
        1.5,
    ),
    (
        r"^(?:you can|you could|you should|you need to|you have to|you must|you may|you might|you will need"
        r"|youll need|you want to|if you want|if you need|to do (?:this|that|so)|in order to|the (?:easiest"
        r"|best|simplest) (?:way|thing|option) is)",
        2.5,
    ),
    (
        r"(?:i (?:am|m) (?:using|on|running)|(?:i|we) (?:use|run|have) (?:windows|win ?\d+|mac ?os|macos|os x"
        r"|osx|ubuntu|linux|debian|fedora|android|ios|iphone|ipad|chromebook|a mac|a pc|version|v?\d+\.\d+)"
        r"|running (?:on )?(?:windows|win ?\d+|mac ?os|macos|ubuntu|linux|debian)|(?:32|64)[- ]?bit)",
        1.5,
    ),
    (
        r"^(?:i (?:have )?(?:tried|reinstalled|restarted|rebooted|cleared|updated|disabled|enabled|checked"
        r"|removed|deleted|installed|uninstalled|changed|reset|followed|searched|googled|read|looked))\b",
        1.5,
    ),
    (
        r"(?:please see|see (?:the )?(?:attached|below|above|screenshot|link)|attached (?:is|are|you will find)"
        r"|for (?:reference|example|instance)|e\.?g\.?|fyi|heads up|just (?:a )?(?:reminder|fyi|heads up))",
        1.0,
    ),
)

LEXICON: Final[dict[CueCategory, tuple[CueSpec, ...]]] = {
    "feature_request": FEATURE_REQUEST,
    "bug_report": BUG_REPORT,
    "pain_point": PAIN_POINT,
    "praise": PRAISE,
    "question": QUESTION,
    "noise": NOISE,
}

# Issue-template and e-mail form headings (folded), and which category a heading suggests.
# They come from the widely used GitHub default templates and issue forms.
HEADING_CUES: Final[tuple[tuple[str, CueCategory, float], ...]] = (
    (
        r"(?:describe|description of) (?:the|this|your) (?:bug|issue|problem|crash|error)|bug (?:report"
        r"|description|summary)|what (?:went wrong|happened)",
        "bug_report",
        2.5,
    ),
    (
        r"steps? to reproduce|to reproduce|repro(?:duction)? steps|how to reproduce|reproduction"
        r"|minimal (?:reproducible )?(?:example|code)|reproducible example|how often does this (?:bug )?happen"
        r"|does this issue occur",
        "bug_report",
        2.0,
    ),
    (
        r"actual (?:behaviou?r|result|outcome)|observed (?:behaviou?r|result)|what actually happen(?:s|ed)"
        r"|current (?:result|output)",
        "bug_report",
        2.0,
    ),
    (
        r"error (?:message|log|output)|stack ?trace|crash (?:log|report)|relevant log output|logs?"
        r"|console output|traceback",
        "bug_report",
        1.5,
    ),
    (r"is (?:this|it) a regression|regression|last (?:known )?working version|worked in", "bug_report", 1.5),
    (r"expected (?:behaviou?r|result|outcome)|what did you expect", "bug_report", 0.8),
    (
        r"is your feature request related to a problem|feature (?:request|description|idea|proposal|summary"
        r"|motivation)|describe the feature",
        "feature_request",
        3.0,
    ),
    (
        r"describe the solution youd like|solution youd like|proposed (?:solution|change|api|feature|design"
        r"|implementation)|suggested (?:solution|change|implementation)|desired (?:behaviou?r|solution|outcome"
        r"|feature)|describe alternatives|alternatives(?: considered| youve considered)?|possible (?:solution"
        r"|implementation)",
        "feature_request",
        2.5,
    ),
    (
        r"motivation|use ?cases?|proposal|who (?:will|would) benefit|would this change the current api"
        r"|benefits?|pitch|why is this (?:needed|important)|problem (?:statement|to solve)",
        "feature_request",
        2.0,
    ),
    (
        r"^(?:question|your question|questions?)$|what (?:have you|did you) tried|what are you trying to (?:do"
        r"|achieve|accomplish)|support request|help request|(?:ask a|asking a) question",
        "question",
        2.5,
    ),
)

# Headings whose *answer* (the next line) declares the type of an issue: "Issue type" -> "Bug".
DECLARATION_HEADINGS: Final[str] = (
    r"(?:issue|request|report|ticket|problem)? ?type|type of (?:issue|request|report)|kind of (?:issue|request)"
    r"|category"
    r"|.{0,40}(?:request a feature or report a bug|report a bug or request a feature)|is this a (?:bug|feature"
    r"|question)|what kind of .{0,40}"
)
DECLARED_TYPES: Final[tuple[tuple[str, CueCategory], ...]] = (
    (r"(?:bug|defect|regression|crash|broken)", "bug_report"),
    (r"(?:feature|enhancement|improvement|suggestion|request|idea|proposal)", "feature_request"),
    (r"(?:question|support|help|how ?to|usage)", "question"),
)

# Boilerplate sentences of common issue templates (left in by the reporter). They are masked,
# but which template they come from is evidence.
TEMPLATE_BOILERPLATE: Final[tuple[tuple[str, CueCategory | None, float], ...]] = (
    (r"a clear and concise description of what the (?:bug|problem|issue) is", "bug_report", 2.0),
    (r"a clear and concise description of what you expected to happen", "bug_report", 1.0),
    (r"steps to reproduce the behaviou?r", "bug_report", 1.5),
    (r"a clear and concise description of what the problem is\W+ex\W", "feature_request", 2.0),
    (r"a clear and concise description of what you want to happen", "feature_request", 2.0),
    (r"a clear and concise description of any alternative solutions", "feature_request", 2.0),
    (r"add any other context or screenshots about the feature request", "feature_request", 2.0),
    (r"add any other context about the problem here", None, 0.0),
    (r"if applicable,? add screenshots to help explain your problem", "bug_report", 1.0),
    (r"(?:please )?(?:fill|complete) (?:in )?the following (?:information|template)", None, 0.0),
    (
        r"(?:thank you|thanks) for (?:taking the time to )?(?:fill(?:ing)? out|report(?:ing)?"
        r"|submit(?:ting)?) (?:this|a|the)",
        None,
        0.0,
    ),
)

# Extra cues that apply only to a title or subject line, where people write in a clipped,
# imperative style: "Add CSV export", "Support for SAML", "Crash when saving", "How to ...".
TITLE_VERB_WEIGHT: Final = 3.0
TITLE_BUG_WEIGHT: Final = 1.5
TITLE_CUES: Final[tuple[tuple[str, CueCategory, float], ...]] = (
    (
        r"^(?:add|adds|added|adding|allow|allows|support|supports|implement|implements|implemented|enable"
        r"|enables|expose"
        r"|provide|introduce|introduces|make|let|consider|improve|improves|extend|extends|offer|include"
        r"|create|request|feature|option to|ability to|new|proposal|rfc|idea|suggestion|enhance|enhancement"
        r"|optimi[sz]e|"
        r"deprecate|remove|replace|rename|refactor|update|upgrade|use|switch to|migrate|port|expand|document"
        r"|surface|show|display"
        r"|hide|return|accept|respect|honou?r|reduce|speed up|simplify|unify|cache|warn|emit|log|move|split"
        r"|merge|avoid|drop"
        r"|persist|preserve|remember|auto-?\w+|bump|provide|adopt|reimplement\w*|rework|integrate|initial|release"
        r"|publish|finali[sz]e|fallback|inform|bring|generate|pass|set|get|have|reuse|align|allow)\b",
        "feature_request",
        TITLE_VERB_WEIGHT,
    ),
    (r"^(?:fix|fixes|fixed|fixing|hotfix|bugfix|bug fix|workaround for)\b", "bug_report", TITLE_VERB_WEIGHT),
    (
        r"\b(?:should (?:be able to|support|allow|have|be|accept|not)|option to|ability to|way to|support for"
        r"|better|more|configurable)\b",
        "feature_request",
        1.0,
    ),
    (
        r"(?:\bnot\b|\bno longer\b|\bfails?\b|\bfailed\b|\bfailing\b|\bcrash|\berror|\bbroken\b|\bbreaks?\b"
        r"|\bwrong\b|\bincorrect|\bhangs?\b|\bfreez|\bleak|\bregress|\bexception|\bdoesnt\b|\bdoes not\b"
        r"|\bcant\b|\bcannot\b|\bunable\b|\binvalid\b|\bmissing\b|\bstuck\b|\bunexpected)",
        "bug_report",
        TITLE_BUG_WEIGHT,
    ),
    (
        r"^(?:how (?:to|do|can|does|should|is|are|would)|what|why|where|when|which|is (?:it|there)|are there"
        r"|can (?:i|we|you|one)"
        r"|does|do (?:i|we|you)|question|help|unable to understand|confused|understanding)\b",
        "question",
        3.0,
    ),
)

# Markers that issue templates leave in HTML comments ("feature_request_template", "Describe the
# bug"). Weaker than visible headings: the reporter did not write them.
COMMENT_CUES: Final[tuple[tuple[str, CueCategory, float], ...]] = (
    (
        r"\b(?:bug[ _-]?report|bug)[ _-]?template|describe (?:the|your) (?:bug|issue|problem)|steps to reproduce",
        "bug_report",
        2.0,
    ),
    (
        r"\bfeature[ _-]?(?:request)?[ _-]?template|describe the feature|feature (?:you|youd) like|feature request",
        "feature_request",
        2.0,
    ),
    (r"\bquestion[ _-]?template|ask (?:a|your) question|(?:for|about) questions?", "question", 2.0),
)
