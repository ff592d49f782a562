"""Mail: composing campaign messages and handing them to a transport. Holds no rule: who gets
what, and what an answer means for a contact, is ``roster.core.sending``'s."""
