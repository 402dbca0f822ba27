fn main() {
    for _ in 0..300 {
        let e = spamsift::Engine::builder()
            .compile_channels(&[spamsift::message::Channel::Email])
            .build_for(spamsift::rules::BuildFor::StartUp)
            .build()
            .unwrap();
        std::hint::black_box(&e);
    }
}
