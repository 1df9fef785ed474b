"""factory_boy factories for the tenancy models, shared by every app's tests."""

import factory

from crm.models import Company, Membership, Role, User
from crm.services import api_token_create
from crm.testing.urlwalk import register_object_maker

TEST_PASSWORD = "correct horse battery staple"  # noqa: S105


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    default_country = "GB"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    company = factory.SubFactory(CompanyFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.SDR


@register_object_maker("api_token_id")
def make_api_token_id(company: Company) -> int:
    """A live token of one of ``company``'s members (tokens belong to users, not companies)."""
    user = company.memberships.order_by("pk").first().user
    token, _key = api_token_create(user=user, name=f"Walk {user.api_tokens.count() + 1}")
    return token.pk
