/// The "USER: … ASSISTANT:" conversation of LLaVA-style models without a chat template: each user
/// turn's images as "<image>\n" before its text (unless the text places them), each answer ended by EOS.
func userAssistantPrompt(_ conversation: [ChatMessage], system: String, eosToken: String) -> String {
    let turns = conversation.map { m -> String in
        if m.role == "assistant" { return "ASSISTANT: \(m.text)\(eosToken)" }
        let text =
            m.hasMarkers ? m.text : String(repeating: ChatMessage.imageMarker + "\n", count: m.imageCount) + m.textOnly
        return "USER: \(text)"
    }
    return system + turns.joined(separator: " ") + " ASSISTANT:"
}
