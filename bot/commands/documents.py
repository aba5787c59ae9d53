"""The corpus's documents: ``/doc`` shows one; admins ``/upload`` and ``/remove`` them."""

from __future__ import annotations

from bot.cards import doc_key, doc_label, document_card, match_documents, norm_number, outline
from bot.commands.registry import CommandHost, command
from bot.texts import say
from bot.types import Button, Incoming, Reply

BUTTON_LABEL_CHARS = 30


@command("doc")
def show_document(host: CommandHost, _incoming: Incoming, query: str) -> Reply:
    """``/doc 文号或标题``: the document's card, or a choice when several match."""
    if not query:
        return Reply(text=[say("doc", "usage")], kind="command")
    documents = host.service.documents()
    matches = match_documents(documents, query)
    if len(matches) == 1:
        sections = outline(matches[0], host.service.index.clauses_of(matches[0].key))
        return Reply(text=[document_card(matches[0], sections)], kind="command")
    if not matches:
        lead, candidates = say("doc", "not_found", query=query), documents
    else:
        lead, candidates = say("doc", "choose", query=query), matches
    lines = [lead, *(say("doc", "list_line", label=doc_label(doc)) for doc in candidates)]
    buttons = [
        Button(doc_label(doc)[:BUTTON_LABEL_CHARS], f"/doc {doc_key(doc)}", listed=True)
        for doc in candidates
    ]
    return Reply(text=["\n".join(lines)], buttons=buttons, kind="command")


@command("upload", admin_only=True)
def upload(host: CommandHost, _incoming: Incoming, args: str) -> Reply:
    """``/upload add|cancel TOKEN``: confirm or drop a previewed file."""
    verb, _, token = args.partition(" ")
    if verb == "add" and token.strip():
        return host.uploads.add(token.strip())
    if verb == "cancel" and token.strip():
        return host.uploads.cancel(token.strip())
    return Reply(text=[say("upload", "usage")], kind="command")


@command("remove", admin_only=True)
def remove(host: CommandHost, _incoming: Incoming, args: str) -> Reply:
    """``/remove 文号``: ask to confirm, then take the document out of the corpus."""
    verb, _, rest = args.partition(" ")
    if verb == "confirm" and rest.strip():
        return host.uploads.remove(rest.strip())
    if verb == "cancel":
        return Reply(text=[say("remove", "cancelled")], kind="command")
    if not args:
        return Reply(text=[say("remove", "usage")], kind="command")
    documents = host.service.documents()
    wanted = norm_number(args)
    exact = [doc for doc in documents if norm_number(doc.doc_number or "") == wanted]
    matches = exact or match_documents(documents, args)
    if len(matches) == 1:
        return host.uploads.ask_remove(matches[0])
    if not matches:
        return Reply(text=[say("remove", "not_found", query=args)], kind="command")
    lines = [say("remove", "choose", query=args)]
    lines.extend(say("doc", "list_line", label=doc_label(doc)) for doc in matches)
    buttons = [
        Button(doc_label(doc)[:BUTTON_LABEL_CHARS], f"/remove {doc_key(doc)}", "confirm")
        for doc in matches
    ]
    return Reply(text=["\n".join(lines)], buttons=buttons, kind="command")
