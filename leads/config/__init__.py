"""The company's lead settings: statuses, transitions, campaigns and custom fields (pages under
``leads:config:…``, services, API); the API of saved views, export templates and schedules."""
