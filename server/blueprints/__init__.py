"""HTTP blueprints, one per area: xl (ribbon buttons), api, addin (static + manifest), review,
health. They authenticate, call a service and shape the answer; no scoring logic here."""
