from django.apps import AppConfig


class GodviewConfig(AppConfig):
    name = "godview"
    verbose_name = "Agency"
