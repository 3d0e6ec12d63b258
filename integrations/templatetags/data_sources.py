from django import template

from integrations.freshness import data_sources as read_data_sources

register = template.Library()


@register.simple_tag
def data_sources() -> list[dict]:
    """Each source's last successful import or sync: `{% data_sources as sources %}`."""
    return read_data_sources()
