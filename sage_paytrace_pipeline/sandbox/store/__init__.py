"""A WooCommerce-shaped web store stand-in: catalogue from the demo company, orders paid through the
PayTrace sandbox, signed webhooks to the receiver, and the REST orders endpoint."""
