from django import forms
from django.contrib.auth.forms import AuthenticationForm

from crm.models import Company


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class CompanySettingsForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = ["name", "default_country"]
